"""The A/B rule's command-line options, generated from `Policy`'s fields: a field with a `help`
in its metadata is a flag (`--<name>`, or its `flag`), typed and defaulted by the field; the
commands that decide (`python -m model abtest`, `python -m stacks.rollout`) share them."""

import argparse
import types
from dataclasses import MISSING, Field, fields
from typing import Literal, Union, get_args, get_origin

from analysis.decision import Policy


def _flag(field: Field) -> str:
    return field.metadata.get("flag", "--" + field.name.replace("_", "-"))


def _option(field: Field) -> dict:
    """argparse keywords of one field: its type (the non-None one), choices of a Literal."""
    annotation = field.type
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
    option: dict = {"dest": field.name, "help": field.metadata["help"]}
    if field.default is not MISSING and field.default is not None:
        option["default"] = field.default
    if get_origin(annotation) is Literal:
        option["choices"] = list(get_args(annotation))
    else:
        option["type"] = annotation
        option["metavar"] = _flag(field).lstrip("-").replace("-", "_").upper()
    return option


def policy_fields() -> list[Field]:
    """The fields of `Policy` a command sets."""
    return [field for field in fields(Policy) if "help" in field.metadata]


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    """The decision rule's options, as a group of `parser`."""
    rule = parser.add_argument_group("decision rule")
    for field in policy_fields():
        rule.add_argument(_flag(field), **_option(field))


def policy_from(args: argparse.Namespace, **overrides: object) -> Policy:
    """The policy the options ask for, with `overrides` (settings of the stack file) on top."""
    chosen = {field.name: getattr(args, field.name) for field in policy_fields()}
    return Policy(**{**chosen, **overrides})

"""Edits of a deployment's traffic split in a stack file, validated before they replace it.

Only the `traffic:` values change, in place: comments, quoting and layout of everything else are
kept (ruamel gives each value's line and column). The edited text is validated by the real
`StackConfig` loader on a staged copy before it replaces the file.
"""

import os
import re
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from infra.stack_config import PROJECT, StackConfig, StackConfigError, load_stack_file
from model.errors import LifecycleError

DEPLOYMENTS_KEY = f"{PROJECT}:deployments"
_TRAFFIC_VALUE = re.compile(r"""^(["']?)\d+\1""")


class StackEditError(LifecycleError):
    """The stack file cannot take the new traffic split; nothing was changed."""


def validated(path: Path) -> StackConfig:
    """The stack file's config, or a StackEditError naming the file and keys."""
    try:
        return load_stack_file(path)
    except StackConfigError as error:
        raise StackEditError(str(error)) from None


def with_traffic(stack_file: Path, deployment: str, namespace: str, traffic: dict[str, int]) -> str:
    """The stack file's text with the named predictors' traffic of one deployment replaced."""
    text = stack_file.read_text()
    try:
        entries = YAML().load(text)["config"][DEPLOYMENTS_KEY]
    except (YAMLError, KeyError, TypeError) as error:
        raise StackEditError(
            f"{stack_file}: expected config.'{DEPLOYMENTS_KEY}' as a YAML list: {error}"
        ) from None
    matching = [
        entry
        for entry in entries
        if entry.get("name") == deployment and entry.get("namespace", "seldon") == namespace
    ]
    if len(matching) != 1:
        raise StackEditError(
            f"{stack_file}: {DEPLOYMENTS_KEY} has no deployment {namespace}/{deployment}"
        )
    lines = text.splitlines(keepends=True)
    for predictor in matching[0]["predictors"]:
        name = predictor["name"]
        if name not in traffic:
            continue
        if "traffic" not in predictor:
            raise StackEditError(f"{stack_file}: predictor {name!r} has no 'traffic' to change")
        line, column = predictor.lc.value("traffic")
        head, tail = lines[line][:column], lines[line][column:]
        lines[line] = head + _TRAFFIC_VALUE.sub(str(traffic[name]), tail, count=1)
    return "".join(lines)


def replace_validated(stack_file: Path, text: str, commit: Callable[[], object]) -> None:
    """Validate `text` as the stack file, run `commit` (e.g. the registry step), then replace
    the file; nothing is written when validation or `commit` fails."""
    staged = stack_file.with_name(f".{stack_file.name}.rollout")
    staged.write_text(text)
    try:
        validated(staged)
        commit()
        try:
            os.replace(staged, stack_file)
        except OSError as error:
            raise StackEditError(f"cannot write {stack_file}: {error}") from None
    finally:
        staged.unlink(missing_ok=True)

"""The A/B rule's command-line options are generated from `Policy`: every field a command sets
is a flag, the defaults are the policy's, and a parsed command line gives the policy it says."""

import argparse
from dataclasses import fields

import pytest

from analysis.decision import Policy
from analysis.policy_options import add_policy_arguments, policy_fields, policy_from


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_policy_arguments(parser)
    return parser


def test_no_flags_is_the_default_policy(parser: argparse.ArgumentParser) -> None:
    assert policy_from(parser.parse_args([])) == Policy()


def test_every_flag_reaches_its_field(parser: argparse.ArgumentParser) -> None:
    args = parser.parse_args(
        "--alpha 0.01 --mixing-sd 0.1 --min-samples 50 --max-samples 5000 "
        "--max-error-ratio 0.1 --latency-tolerance 0.5 --promote-when not-worse "
        "--margin 0.05".split()
    )
    assert policy_from(args) == Policy(
        alpha=0.01,
        mixing_sd=0.1,
        minimum_samples=50,
        max_samples=5000,
        max_error_ratio=0.1,
        latency_tolerance=0.5,
        promote_when="not-worse",
        margin=0.05,
    )


def test_only_the_slack_is_not_a_flag() -> None:
    """A new Policy field is a flag once it has a help text; the one without stays internal."""
    assert {f.name for f in fields(Policy)} - {f.name for f in policy_fields()} == {
        "latency_slack_seconds"
    }


def test_stack_settings_override_the_flags(parser: argparse.ArgumentParser) -> None:
    args = parser.parse_args(["--max-error-ratio", "0.2"])
    assert policy_from(args, max_error_ratio=0.01).max_error_ratio == 0.01


def test_choices_come_from_the_field_type(parser: argparse.ArgumentParser) -> None:
    with pytest.raises(SystemExit):
        parser.parse_args(["--promote-when", "sometimes"])

"""Fixtures for the platform program: both stacks declared once under Pulumi's mock runtime."""

from pathlib import Path

import pytest
import yaml

from stacks.mock_runtime import Declared
from stacks.render import render_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod")


def stack_file(stack: str) -> Path:
    return REPO_ROOT / f"Pulumi.{stack}.yaml"


def stack_values(stack: str) -> dict:
    """The `config:` mapping of a committed stack file."""
    return yaml.safe_load(stack_file(stack).read_text())["config"]


@pytest.fixture(scope="session")
def declared() -> dict[str, Declared]:
    """What each committed stack declares, keyed by stack name."""
    return {stack: render_stack(stack, stack_file(stack)) for stack in STACKS}

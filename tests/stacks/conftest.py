"""Fixtures for the platform program: every committed stack declared once under Pulumi's mock
runtime."""

from pathlib import Path

import pytest
import yaml

from stacks.mock_runtime import Declared
from stacks.render import render_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS = tuple(sorted(path.name.split(".")[1] for path in REPO_ROOT.glob("Pulumi.*.yaml")))
"""Every stack with a committed `Pulumi.<stack>.yaml`."""


def stack_file(stack: str) -> Path:
    return REPO_ROOT / f"Pulumi.{stack}.yaml"


def stack_values(stack: str) -> dict:
    """The `config:` mapping of a committed stack file."""
    return yaml.safe_load(stack_file(stack).read_text())["config"]


def creates_kind_cluster(stack: str) -> bool:
    return stack_values(stack)["mlops-platform:createKindCluster"] is True


@pytest.fixture(scope="session")
def declared() -> dict[str, Declared]:
    """What each committed stack declares, keyed by stack name."""
    return {stack: render_stack(stack, stack_file(stack)) for stack in STACKS}

"""Fixtures for the platform program: every stack declared once under Pulumi's mock runtime."""

import pytest

from stacks.mock_runtime import Declared
from stacks.render import render_stack
from tests.support.stacks import STACKS, stack_file


@pytest.fixture(scope="session")
def declared() -> dict[str, Declared]:
    """What each stack declares, keyed by stack name."""
    return {stack: render_stack(stack, stack_file(stack)) for stack in STACKS}

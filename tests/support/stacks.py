"""The repository's stacks, discovered: every ``Pulumi.<stack>.yaml`` beside ``Pulumi.yaml``.

Tests parametrise over ``STACKS`` instead of naming stacks, so a new environment added as
``docs/extending.md`` says is checked like the committed ones. ``REPO_ROOT`` is the checkout the
tests run from (a copy of the repository works the same)."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]


def stack_names(root: Path = REPO_ROOT) -> tuple[str, ...]:
    """The stacks with a ``Pulumi.<stack>.yaml`` in ``root``, sorted."""
    return tuple(sorted(path.name.split(".")[1] for path in root.glob("Pulumi.*.yaml")))


STACKS = stack_names()
"""Every stack with a committed ``Pulumi.<stack>.yaml``."""


def stack_file(stack: str) -> Path:
    return REPO_ROOT / f"Pulumi.{stack}.yaml"


def stack_values(stack: str) -> dict:
    """The ``config:`` mapping of a stack file."""
    return yaml.safe_load(stack_file(stack).read_text())["config"]


def creates_kind_cluster(stack: str) -> bool:
    return stack_values(stack)["mlops-platform:createKindCluster"] is True


SHARED_STACKS = tuple(stack for stack in STACKS if not creates_kind_cluster(stack))
"""The stacks on a shared cluster: the ones CI renders, previews and deploys."""

"""Pins a test writes for a stack file, standing in for `python -m release pin` where no registry
runs."""

import hashlib
from pathlib import Path

from release.pins import Pin, PinLock, pin_file_for, write_pins
from release.stack_refs import predictor_refs

TEST_REGISTRY = "http://registry.test"
"""Recorded as the source of pins written by `pin_test_stack`; nothing listens there."""


def pin_test_stack(stack_file: Path, merge: str = "auto") -> Path:
    """Pins written by the test, standing in for `python -m release pin` (no registry): every
    predictor of `stack_file` pinned at its '<name>/<version>' or, for '<name>@<alias>', at
    version 1 (2 for `challenger`, 3 for `candidate`), with a digest derived from name and
    version. Returns the pin file beside the stack file."""
    alias_version = {"challenger": "2", "candidate": "3"}
    deployments: dict[str, dict[str, Pin]] = {}
    for ref in predictor_refs(stack_file):
        version = ref.version or alias_version.get(ref.alias or "", "1")
        digest = "sha256:" + hashlib.sha256(f"{ref.model}/{version}".encode()).hexdigest()
        deployments.setdefault(ref.deployment, {})[ref.predictor] = Pin(
            model=ref.model, version=version, digest=digest, alias=ref.alias,
            registry=TEST_REGISTRY,
        )  # fmt: skip
    stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    path = pin_file_for(stack_file)
    write_pins(path, PinLock(stack=stack, merge=merge, deployments=deployments))
    return path

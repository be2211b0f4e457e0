"""Paths of the Debian-packaged binaries the suites run (see .ci/run's apt line)."""

from __future__ import annotations

import shutil

import pytest


def required_tool(*names: str, package: str) -> str:
    """The first of ``names`` on PATH; fails the test (never skips) naming the package."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    pytest.fail(f"{names[0]} not found on PATH: install Debian's {package!r} package (see .ci/run)")

"""Where a run came from: the source commit and the Python environment it ran in."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata

from model.locations import REPO_ROOT

UNKNOWN = "unknown"


def git_commit() -> str:
    """The checked-out commit of the repository (suffixed ``-dirty`` with local changes)."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return UNKNOWN
    return f"{commit}-dirty" if dirty else commit


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def python_environment() -> str:
    """The interpreter version and every installed distribution, one ``name==version`` a line."""
    packages = sorted(
        {f"{dist.metadata['Name']}=={dist.version}" for dist in metadata.distributions()},
        key=str.lower,
    )
    return "\n".join([f"# python {platform.python_version()}", *packages]) + "\n"

"""Where a run came from: the source commit and the Python environment it ran in."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata

from model.locations import REPO_ROOT

UNKNOWN = "unknown"
DATA_POINTERS = (":(exclude,glob)**/*.dvc", ":(exclude,glob)**/dvc.lock")
LOCK_FILES = ("requirements.txt", "model/requirements.txt")
"""The repository's lock, else the training image's (the image holds only ``model/``)."""


def git_commit() -> str:
    """The checked-out commit of the repository (suffixed ``-dirty`` with local changes).

    Changed DVC pointers (``*.dvc``, ``dvc.lock``) are data, recorded as the data version, so
    they leave the code clean."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".", *DATA_POINTERS)
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


def environment_sha256() -> str:
    """SHA-256 of ``python_environment()``: equal exactly when every installed version is."""
    return hashlib.sha256(python_environment().encode()).hexdigest()


def lock_file_sha256() -> str:
    """``<lock file>:sha256:<hex>`` of the lock this environment was installed from."""
    for name in LOCK_FILES:
        path = REPO_ROOT / name
        if path.is_file():
            return f"{name}:sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"
    return UNKNOWN

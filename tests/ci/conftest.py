"""Fixtures for the delivery-pipeline suite: the pipeline files, and checkov in its own venv."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import pytest
import yaml

from tests.ci.ci_pipelines import CHECKOV_REQUIREMENTS, GITLAB_CI, REPO_ROOT, WORKFLOWS

CHECKOV_INSTALL_TIMEOUT_S = 480
# uv from the test run's own virtualenv (make venv installs it from ci/uv-requirements.txt).
UV = Path(sys.executable).parent / "uv"


@pytest.fixture(scope="session")
def gitlab_ci() -> dict:
    """The parsed .gitlab-ci.yml."""
    return yaml.safe_load(GITLAB_CI.read_text())


@pytest.fixture(scope="session")
def workflows() -> dict[str, dict]:
    """Every GitHub workflow, parsed, by file name (PyYAML reads the `on:` key as True)."""
    return {path.name: yaml.safe_load(path.read_text()) for path in WORKFLOWS}


@pytest.fixture(scope="session")
def checkov() -> Path:
    """The checkov executable, from a venv built once per requirements file beside the main one.

    checkov's pins conflict with pulumi's, so it cannot live in .venv. The venv is named after
    the hash of its lock ci/checkov-requirements.txt (installed with hashes required) and built
    under a file lock (parallel test runs share it); a marker file says the install finished, so
    an interrupted one is redone.
    """
    key = hashlib.sha256(CHECKOV_REQUIREMENTS.read_bytes()).hexdigest()[:12]
    target = REPO_ROOT / f".venv-checkov-{key}"
    complete = target / "installed"
    with open(Path(tempfile.gettempdir()) / f"mlops-platform-checkov-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not complete.exists():
            shutil.rmtree(target, ignore_errors=True)
            venv.create(target)
            subprocess.run(
                [UV, "pip", "sync", "--python", target / "bin" / "python", "--require-hashes",
                 CHECKOV_REQUIREMENTS],
                check=True,
                timeout=CHECKOV_INSTALL_TIMEOUT_S,
            )
            complete.touch()
    return target / "bin" / "checkov"

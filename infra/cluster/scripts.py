"""The shell scripts under `infra/scripts/` that Pulumi runs locally, and how it calls them."""

import os
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
KIND_SCRIPT = SCRIPTS / "kind-cluster.sh"


def script_command(script: Path, *args: str) -> str:
    """A shell command running one of `infra/scripts/`, by a path relative to the working
    directory, so Pulumi state does not depend on where the repository is checked out."""
    return " ".join(["bash", os.path.relpath(script), *args])

"""What the delivery-pipeline tests share: where the pipeline files live, and running checkov."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
GITLAB_CI = REPO_ROOT / ".gitlab-ci.yml"
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
CHECKOV_REQUIREMENTS = REPO_ROOT / "ci" / "checkov-requirements.txt"


def run_checkov(checkov: Path, directory: Path) -> subprocess.CompletedProcess[str]:
    """checkov's GitHub Actions and GitLab CI checks on `directory`, offline."""
    return subprocess.run(
        [checkov, "--directory", directory, "--framework", "github_actions", "gitlab_ci",
         "--skip-download", "--compact", "--quiet", "--output", "cli"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        check=False,
    )

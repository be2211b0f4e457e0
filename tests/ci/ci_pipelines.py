"""What the delivery-pipeline tests share: where the pipeline files live, and running checkov."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.stacks import REPO_ROOT

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


def gitlab_jobs(gitlab_ci: dict) -> dict[str, dict]:
    """GitLab jobs with their `extends` template merged in (one level, as used here)."""
    jobs = {}
    for name, job in gitlab_ci.items():
        if isinstance(job, dict) and "stage" in job:
            template = gitlab_ci.get(job.get("extends", ""), {})
            jobs[name] = {**template, **job}
    return jobs


def delivery_jobs(workflows: dict[str, dict]) -> dict[str, dict]:
    return workflows["delivery.yml"]["jobs"]

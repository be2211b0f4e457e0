"""Both pipeline files against their official schemas and checkov's CI checks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci.ci_pipelines import GITLAB_CI, REPO_ROOT, WORKFLOWS, run_checkov

CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
SCHEMAS = {"gitlab-ci": [GITLAB_CI], "github-workflows": WORKFLOWS}


def check_jsonschema(schema: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    """Validate `files` with check-jsonschema's vendored copy of the official `schema`."""
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", f"vendor.{schema}", *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("schema", sorted(SCHEMAS))
def test_pipeline_files_match_their_official_schema(schema: str) -> None:
    assert SCHEMAS[schema], f"no pipeline file for {schema}"
    result = check_jsonschema(schema, SCHEMAS[schema])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("schema", "name", "broken"),
    [
        ("gitlab-ci", ".gitlab-ci.yml", "build-image:\n  stage: build\n  when: sometimes\n"),
        ("github-workflows", "delivery.yml", "on: push\njobs:\n  test:\n    steps: []\n"),
    ],
)
def test_schema_check_rejects_a_broken_pipeline(
    tmp_path: Path, schema: str, name: str, broken: str
) -> None:
    pipeline = tmp_path / name
    pipeline.write_text(broken)
    result = check_jsonschema(schema, [pipeline])
    assert result.returncode != 0
    assert "Schema validation errors" in result.stdout


def test_checkov_ci_checks_pass_on_both_pipelines(checkov: Path, tmp_path: Path) -> None:
    shutil.copy(GITLAB_CI, tmp_path / ".gitlab-ci.yml")
    shutil.copytree(REPO_ROOT / ".github", tmp_path / ".github")
    result = run_checkov(checkov, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "github_actions scan results" in result.stdout
    assert "gitlab_ci scan results" in result.stdout
    assert "Failed checks: 0" in result.stdout


def test_checkov_flags_a_workflow_with_write_all_permissions(
    checkov: Path, tmp_path: Path
) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(
        "on: push\npermissions: write-all\njobs:\n  build:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - run: echo hi\n"
    )
    result = run_checkov(checkov, tmp_path)
    assert result.returncode != 0
    assert "CKV2_GHA_1" in result.stdout

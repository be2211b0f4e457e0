"""docs/extending.md's new-environment recipe, followed as written in a copy of the repository: a
fourth stack file copied from the nearest one with only values changed, the stack added to the
CI matrices; then the stack checks, run in the copy, find the new stack and pass on it (the
copy's render validated and schema-checked, its config validated, its security checked)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.stacks import REPO_ROOT

NEW_STACK = "staging"
NEAREST = "dev"
CHECK_FILES = (
    "tests/infra/test_stack_config.py",
    "tests/security/test_security_config.py",
    "tests/security/test_rendered_security.py",
    "tests/stacks/test_render.py",
    "tests/stacks/test_route_names.py",
    "tests/stacks/test_preflight.py",
    "tests/ci/test_pipeline_stages.py",
)
ALL_STACK_CHECKS = (
    "test_every_stack_has_the_same_keys",
    "test_committed_stacks_validate",
    "test_committed_stacks_keep_one_route_per_deployment",
    "test_prod_is_protected_and_every_stack_says_whether_it_is",
    "test_github_previews_every_shared_stack_on_pull_requests_and_comments",
    "test_gitlab_jobs_stages_and_triggers",
)
"""The checks over every stack at once; the rest are selected by the new stack's test ids."""
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv*", ".pulumi-state", "render", "__pycache__", ".pytest_cache", "*.egg-info"
)


def follow_the_recipe(root: Path) -> None:
    """Step 1: copy the nearest stack file, change values only (cluster, ingress); step 2: its
    pins; step 4: the stack name in the pipeline matrices. (Step 3, secrets, has nothing to set:
    the committed stacks hold no secret value; step 5 needs a cluster.)"""
    text = (root / f"Pulumi.{NEAREST}.yaml").read_text()
    for key, value in {
        "kubeconfigContext": NEW_STACK,
        "ingressDomain": f"{NEW_STACK}.mlops.example.com",
        "jwtAudiences": f"[mlops-predictions-{NEW_STACK}]",
    }.items():
        text, count = re.subn(rf"(?m)^(  mlops-platform:{key}:) .*$", rf"\1 {value}", text)
        assert count == 1, key
    (root / f"Pulumi.{NEW_STACK}.yaml").write_text(text)
    # Step 2: the nearest stack's pins, renamed (the sed command of the recipe).
    pins = (root / f"pins.{NEAREST}.yaml").read_text()
    pins, count = re.subn(rf"(?m)^stack: {NEAREST}$", f"stack: {NEW_STACK}", pins)
    assert count == 1
    (root / f"pins.{NEW_STACK}.yaml").write_text(pins)
    matrices = {
        ".gitlab-ci.yml": "STACK: [dev, prod]",
        ".github/workflows/delivery.yml": "stack: [dev, prod]",
    }
    for name, matrix in matrices.items():
        path = root / name
        assert matrix in path.read_text(), name
        path.write_text(path.read_text().replace(matrix, matrix[:-1] + f", {NEW_STACK}]"))


def test_a_fourth_stack_added_as_the_docs_say_passes_the_stack_checks(tmp_path: Path) -> None:
    copy = tmp_path / "repository"
    shutil.copytree(REPO_ROOT, copy, ignore=NOT_COPIED)
    follow_the_recipe(copy)
    selection = " or ".join((NEW_STACK, *ALL_STACK_CHECKS))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-n0", "-p", "no:cacheprovider", "-rN",
         "-k", selection, *CHECK_FILES],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=540,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    on_the_new_stack = re.findall(rf"\[[^\]]*{NEW_STACK}[^\]]*\] PASSED", result.stdout)
    assert len(on_the_new_stack) >= 15, result.stdout[-4000:]
    assert re.search(r"\d+ passed", result.stdout) and "skipped" not in result.stdout

"""ci/render_diff.py on a throw-away copy of the platform, rendered by the real offline renderer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from release.pins import read_pins, write_pins
from tests.ci.ci_pipelines import REPO_ROOT

RENDERED_SOURCES = ("analysis", "infra", "stacks", "serving", "release", "model", "Pulumi.yaml",
                    "Pulumi.dev.yaml", "pins.dev.yaml")  # fmt: skip
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "ci-test",
    "GIT_AUTHOR_EMAIL": "ci-test@example.invalid",
    "GIT_COMMITTER_NAME": "ci-test",
    "GIT_COMMITTER_EMAIL": "ci-test@example.invalid",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={**os.environ, **GIT_IDENTITY},
        timeout=60,
    )


@pytest.fixture(scope="module")
def platform_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository whose only commit holds the platform program and the dev stack file."""
    repo = tmp_path_factory.mktemp("platform")
    for name in RENDERED_SOURCES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, repo / name)
    git(repo, "init", "--quiet")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "base")
    return repo


@pytest.fixture
def work_tree(platform_repo: Path) -> Iterator[Path]:
    """The repository with the work tree reset to the base commit after the test."""
    yield platform_repo
    git(platform_repo, "checkout", "--", ".")


def edit_stack_file(repo: Path, old: str, new: str) -> None:
    stack_file = repo / "Pulumi.dev.yaml"
    text = stack_file.read_text()
    assert old in text, f"{old!r} not in the dev stack file"
    stack_file.write_text(text.replace(old, new, 1))


def render_diff(
    repo: Path, out: Path, base: str = "HEAD", *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "ci" / "render_diff.py"),
            "--stack",
            "dev",
            "--base",
            base,
            "--out",
            str(out),
            "--repo",
            str(repo),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def diff_after_edits(repo: Path, tmp_path: Path, *edits: tuple[str, str]) -> str:
    """Apply (old, new) edits to the dev stack file, run render_diff, return the Markdown."""
    for old, new in edits:
        edit_stack_file(repo, old, new)
    out = tmp_path / "diff.md"
    result = render_diff(repo, out)
    assert result.returncode == 0, result.stderr
    return out.read_text()


def test_unchanged_stack_reports_no_change(work_tree: Path, tmp_path: Path) -> None:
    diff = diff_after_edits(work_tree, tmp_path)
    assert "No change to SeldonDeployments, dashboards or alert rules." in diff


def test_traffic_split_change_shows_in_the_seldon_deployment(
    work_tree: Path, tmp_path: Path
) -> None:
    diff = diff_after_edits(
        work_tree, tmp_path, ("traffic: 50", "traffic: 70"), ("traffic: 50", "traffic: 30")
    )
    assert "+++ head/SeldonDeployment/seldon/iris" in diff
    assert "-    traffic: 50" in diff
    assert "+    traffic: 70" in diff and "+    traffic: 30" in diff
    assert "NetworkPolicy" not in diff and "helmRelease" not in diff


def test_monitoring_change_shows_in_dashboards_as_expanded_json(
    work_tree: Path, tmp_path: Path
) -> None:
    diff = diff_after_edits(work_tree, tmp_path, ("rateWindow: 1m", "rateWindow: 5m"))
    assert "+++ head/ConfigMap/monitoring/" in diff
    changed = [line for line in diff.splitlines() if line.startswith("+ ") and "[5m]" in line]
    assert changed, "dashboard queries should be diffed line by line, not as one JSON string"


def test_invalid_head_config_fails_with_the_validation_message(
    work_tree: Path, tmp_path: Path
) -> None:
    edit_stack_file(work_tree, "traffic: 50", "traffic: 40")
    out = tmp_path / "diff.md"
    result = render_diff(work_tree, out)
    assert result.returncode == 1
    assert "render-diff: rendering stack 'dev'" in result.stderr
    assert "traffic" in result.stderr
    assert not out.exists()


def test_unknown_base_ref_is_named(work_tree: Path, tmp_path: Path) -> None:
    result = render_diff(work_tree, tmp_path / "diff.md", base="no-such-ref")
    assert result.returncode == 1
    assert "cannot check out base ref 'no-such-ref'" in result.stderr


def test_a_pin_change_shows_as_a_version_and_digest_change(work_tree: Path, tmp_path: Path):
    """A reviewed model change moves the pin: the diff shows MODEL_URI, MODEL_DIGEST and the
    version label of that predictor, and nothing asks a registry."""
    lock = read_pins(work_tree / "pins.dev.yaml")
    before = lock.pin("seldon/iris", "champion")
    after = before.model_copy(update={"version": "7", "digest": "sha256:" + "7" * 64})
    write_pins(work_tree / "pins.dev.yaml", lock.with_pin("seldon/iris", "champion", after))
    out = tmp_path / "diff.md"
    result = render_diff(work_tree, out, "HEAD")
    assert result.returncode == 0, result.stderr
    changed = {line for line in out.read_text().splitlines() if line[:1] in "+-"}
    assert {line.split()[-1] for line in changed if "models:/" in line} == {
        f"models:/iris/{before.version}",
        "models:/iris/7",
    }
    assert any(line.startswith("+") and "sha256:" + "7" * 64 in line for line in changed)
    assert {f"-      version: '{before.version}'", "+      version: '7'"} <= changed

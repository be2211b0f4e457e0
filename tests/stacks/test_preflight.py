"""`make up` stops at once, naming what is missing, when a prerequisite is absent."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.preflight import problems

from .conftest import REPO_ROOT, stack_file


def tool_dir(tmp_path: Path, tools: dict[str, str]) -> Path:
    """A PATH directory with `make`, Python 3.12 and fake tools given as shell bodies."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "make").symlink_to(shutil.which("make"))
    (bin_dir / "python3.12").symlink_to(sys.executable)
    for name, body in tools.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def make(target: str, bin_dir: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        ["make", "--no-print-directory", target, "STACK=local"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_up_without_pulumi_or_docker_stops_before_anything_runs(tmp_path: Path) -> None:
    result = make("up", tool_dir(tmp_path, {}))
    assert result.returncode != 0
    assert "cannot deploy stack 'local': missing prerequisites" in result.stderr
    assert "'pulumi' not found on PATH" in result.stderr
    assert "https://www.pulumi.com/docs/iac/download-install/" in result.stderr
    assert "'docker' not found on PATH" in result.stderr
    assert "'kind' not found on PATH" in result.stderr  # local creates a kind cluster
    assert "pip install" not in result.stdout  # stopped before the virtualenv step


def test_docker_client_without_engine_is_reported(tmp_path: Path) -> None:
    tools = {
        "pulumi": "exit 0",
        "kubectl": "exit 0",
        "kind": "exit 0",
        "docker": "echo 'Cannot connect to the Docker daemon' >&2; exit 1",
    }
    result = make("up", tool_dir(tmp_path, tools), PULUMI_CONFIG_PASSPHRASE="x")
    assert result.returncode != 0
    assert "no engine is running (Cannot connect to the Docker daemon)" in result.stderr
    assert "not found on PATH" not in result.stderr


def test_passphrase_is_required_for_the_self_managed_backend(tmp_path: Path) -> None:
    tools = {name: "exit 0" for name in ("pulumi", "kubectl", "kind", "docker")}
    result = make("preflight", tool_dir(tmp_path, tools))
    assert result.returncode != 0
    assert "PULUMI_CONFIG_PASSPHRASE" in result.stderr


@pytest.mark.parametrize("stack", ["local", "dev", "prod"])
def test_preflight_passes_when_everything_is_there(tmp_path: Path, stack: str) -> None:
    tools = {name: "exit 0" for name in ("pulumi", "kubectl", "docker")}
    if stack == "local":
        tools["kind"] = "exit 0"
    result = subprocess.run(
        [sys.executable, "-m", "stacks.preflight", "--stack", stack],
        cwd=REPO_ROOT,
        env={"PATH": str(tool_dir(tmp_path, tools)), "PULUMI_CONFIG_PASSPHRASE": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"preflight ok for stack '{stack}'" in result.stdout


def test_unknown_stack_lists_the_stack_files(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stacks.preflight", "--stack", "staging"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "no stack file Pulumi.staging.yaml" in result.stderr
    assert "Pulumi.dev.yaml, Pulumi.local.yaml, Pulumi.prod.yaml" in result.stderr


def test_prebuilt_image_needs_no_docker(tmp_path: Path) -> None:
    text = (
        stack_file("prod")
        .read_text()
        .replace(
            "config:\n",
            "config:\n  mlops-platform:imagePrebuiltRef: ghcr.io/acme/server@sha256:"
            + "0" * 64
            + "\n",
        )
    )
    (tmp_path / "Pulumi.prod.yaml").write_text(text)
    bin_dir = tool_dir(tmp_path, {"pulumi": "exit 0"})
    env = {"PATH": str(bin_dir), "PULUMI_CONFIG_PASSPHRASE": "x"}
    assert problems("prod", env, root=tmp_path) == []
    assert problems("prod", env) == [
        "'docker' not found on PATH; install Docker (engine running): "
        "https://docs.docker.com/get-started/get-docker/"
    ]

"""Versioned data with the real DVC library, real Git and the session's real MLflow server.

A throwaway data project (git + ``dvc init``, ``data/iris.csv`` tracked with ``dvc add``,
pushed to a local directory remote and to MLflow's proxied artifact API as an http remote)
stands for the team's data repository; ``--data-repo``/``--data-rev`` point training at it.
``reproduce`` checks out this repository's recorded commit, so run it from a committed tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from model.data import exported_csv
from model.provenance import git_commit
from model.specs import load_spec
from model.versioned_data import REMOTE_URL_ENV

DVC = str(Path(sys.executable).parent / "dvc")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "data-scientist",
    "GIT_AUTHOR_EMAIL": "ds@example.com",
    "GIT_COMMITTER_NAME": "data-scientist",
    "GIT_COMMITTER_EMAIL": "ds@example.com",
}
MLFLOW_REMOTE_PATH = "/api/2.0/mlflow-artifacts/artifacts/0/dvc-tests"
"""Under the Default experiment: MLflow's basic-auth judges a proxied artifact by the
experiment id leading its path and refuses non-admins a path without one (docs/continuous-
training.md)."""


def run(*command: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, **GIT_IDENTITY, **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout.strip()


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def commit_data(project: Path, data: bytes, message: str) -> str:
    """Write data/iris.csv, `dvc add` it, commit its pointer; the new commit."""
    (project / "data" / "iris.csv").write_bytes(data)
    run(DVC, "add", "-q", "data/iris.csv", cwd=project)
    run("git", "add", "data", cwd=project)
    run("git", "commit", "-qm", message, cwd=project)
    return run("git", "rev-parse", "HEAD", cwd=project)


@pytest.fixture(scope="module")
def original() -> bytes:
    return exported_csv(load_spec("iris"))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, original: bytes) -> Path:
    """The data project: iris tracked by DVC, committed, pushed to a local directory remote."""
    root = tmp_path_factory.mktemp("data-project")
    project, remote = root / "project", root / "remote"
    project.mkdir()
    run("git", "init", "-q", cwd=project)
    run(DVC, "init", "-q", cwd=project)
    run(DVC, "config", "core.analytics", "false", cwd=project)
    run(DVC, "remote", "add", "-d", "storage", str(remote), cwd=project)
    run("git", "add", ".dvc/config", cwd=project)
    (project / "data").mkdir()
    commit_data(project, original, "iris, first version")
    run(DVC, "push", "-q", cwd=project)
    return project


@pytest.fixture
def client(mlflow_server: str) -> MlflowClient:
    return MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)


def new_name() -> str:
    return f"iris-dvc-{uuid.uuid4().hex[:8]}"


def train(run_cli, server: str, name: str, *options: str):
    return run_cli(
        "train", "--tracking-uri", server, "--spec", "iris", "--model-name", name, "--json",
        *options,
    )  # fmt: skip


def test_track_push_pull_into_a_clean_checkout_then_train_and_register(
    run_cli, mlflow_server: str, client: MlflowClient, project: Path, original: bytes,
    tmp_path: Path,
) -> None:  # fmt: skip
    clone = tmp_path / "clone"
    run("git", "clone", "-q", str(project), str(clone), cwd=tmp_path)
    assert not (clone / "data" / "iris.csv").exists()
    run(DVC, "pull", "-q", cwd=clone)
    assert (clone / "data" / "iris.csv").read_bytes() == original
    commit = run("git", "rev-parse", "HEAD", cwd=clone)
    name = new_name()

    trained = train(run_cli, mlflow_server, name, "--data-repo", str(clone), "--data-rev", "HEAD")
    again = train(
        run_cli, mlflow_server, name, "--data-repo", str(clone), "--data-rev", "HEAD",
        "--skip-unchanged",
    )  # fmt: skip

    assert trained.code == 0, trained.stderr
    version = trained.json()["version"]
    tags = client.get_model_version(name, version).tags
    run_tags = client.get_run(trained.json()["run_id"]).data.tags
    for recorded in (tags, run_tags):
        assert recorded["data.dvc_md5"] == md5(original)
        assert recorded["data.git_rev"] == commit
        assert recorded["data.path"] == "data/iris.csv"
        assert recorded["git_commit"] == git_commit()
        assert recorded["seed"] == "42"
        assert recorded["environment.lock"].startswith("requirements.txt:sha256:")
        assert len(recorded["environment.sha256"]) == 64
        assert json.loads(recorded["training.config"])["seed"] == 42
    assert again.code == 0, again.stderr
    assert again.json()["skipped"] is True
    assert f"unchanged since {name} version {version}" in again.json()["detail"]
    assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == [version]


def test_mlflow_artifact_api_is_a_dvc_remote_behind_basic_auth(
    run_cli, mlflow_server, client: MlflowClient, project: Path, original: bytes,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A data scientist's `dvc push` PUTs into MLflow's proxied artifact API (as the admin
    here), the pipeline user's training GETs from it through dvc.api."""
    login = mlflow_server.logins["admin"]
    url = f"{mlflow_server}{MLFLOW_REMOTE_PATH}"
    run(DVC, "remote", "add", "-f", "mlflow", url, cwd=project)
    for key, value in (("method", "PUT"), ("auth", "basic"), ("user", login.username)):
        run(DVC, "remote", "modify", "mlflow", key, value, cwd=project)
    # `--`: a generated password may start with '-' (dvc's argparse took one for an option).
    run(DVC, "remote", "modify", "--local", "mlflow", "password", "--", login.password, cwd=project)
    try:
        run(DVC, "push", "-q", "-r", "mlflow", cwd=project)
    finally:
        # The project is the module's: leave its configuration as the other tests found it (a
        # password-only `mlflow` section in config.local breaks DVC at any other commit).
        run(DVC, "remote", "remove", "--local", "mlflow", cwd=project)
        run(DVC, "remote", "remove", "mlflow", cwd=project)
    clone = tmp_path / "clone"
    run("git", "clone", "-q", str(project), str(clone), cwd=tmp_path)
    monkeypatch.setenv(REMOTE_URL_ENV, url)
    name = new_name()

    trained = train(run_cli, mlflow_server, name, "--data-repo", str(clone), "--data-rev", "HEAD")

    assert trained.code == 0, trained.stderr
    tags = client.get_model_version(name, trained.json()["version"]).tags
    assert tags["data.dvc_md5"] == md5(original)


def test_reproduce_rebuilds_the_registered_digest_and_names_changed_data(
    run_cli, mlflow_server: str, client: MlflowClient, project: Path, original: bytes,
) -> None:  # fmt: skip
    assert not git_commit().endswith("-dirty"), "reproduce needs this repository committed"
    changed = original.replace(b"5.1,3.5,1.4,0.2", b"5.2,3.5,1.4,0.2", 1)
    commit = commit_data(project, changed, "iris, one measurement corrected")
    name = new_name()
    committed = train(
        run_cli, mlflow_server, name, "--data-repo", str(project), "--data-rev", commit
    )
    (project / "data" / "iris.csv").write_bytes(original)  # uncommitted working-tree data
    uncommitted = train(run_cli, mlflow_server, name, "--data-repo", str(project))
    assert committed.code == 0 and uncommitted.code == 0, committed.stderr + uncommitted.stderr
    first, second = committed.json(), uncommitted.json()
    assert first["model_digest"] != second["model_digest"]
    tags = client.get_model_version(name, second["version"]).tags
    assert (tags["data.dvc_md5"], tags["data.git_rev"]) == (md5(original), f"{commit}+workspace")

    same = run_cli("reproduce", "--tracking-uri", mlflow_server, "--json", f"{name}/1")
    (project / "data" / "iris.csv").write_bytes(changed)  # the working tree moved on
    moved = run_cli("reproduce", "--tracking-uri", mlflow_server, "--json", f"{name}/2")

    assert same.code == 0, same.stderr
    assert same.json()["reproduced"] is True and same.json()["differs"] == []
    assert moved.code == 1, moved.stderr
    assert moved.json()["differs"] == ["model_digest", "data.dvc_md5"]
    data = next(c for c in moved.json()["comparisons"] if c["name"] == "data.dvc_md5")
    assert (data["recorded"], data["rebuilt"]) == (md5(original), md5(changed))


def test_a_version_missing_from_the_remote_is_a_clear_error_and_nothing_is_registered(
    run_cli, mlflow_server: str, client: MlflowClient, project: Path, original: bytes,
    tmp_path: Path,
) -> None:  # fmt: skip
    unpushed = original.replace(b"4.9,3.0,1.4,0.2", b"4.8,3.0,1.4,0.2", 1)
    commit_data(project, unpushed, "iris, never pushed")
    clone = tmp_path / "clone"
    run("git", "clone", "-q", str(project), str(clone), cwd=tmp_path)
    name = new_name()

    result = train(run_cli, mlflow_server, name, "--data-repo", str(clone), "--data-rev", "HEAD")

    assert result.code == 1
    message = result.json()["error"]["message"]
    assert f"cannot fetch DVC-tracked data/iris.csv (md5 {md5(unpushed)})" in message
    assert "dvc push" in message
    assert client.search_model_versions(f"name = '{name}'") == []


def test_two_fits_of_one_recipe_for_one_run_are_the_same_bytes(tmp_path: Path) -> None:
    """No seed left out, no clock, no object address in the model files."""
    from model.data import load_spec_dataset
    from model.rebuild import rebuild

    spec = load_spec("wine")  # a dataset whose model.skops holds several arrays
    dataset = load_spec_dataset(spec)
    recipe = {
        "estimator": "random_forest", "params": {"n_estimators": 5}, "seed": 3,
        "test_size": 0.25, "drift_bins": 10,
    }  # fmt: skip

    first = rebuild(dataset, recipe, "run-1", tmp_path / "first")
    second = rebuild(dataset, recipe, "run-1", tmp_path / "second")
    other_seed = rebuild(dataset, {**recipe, "seed": 4}, "run-1", tmp_path / "third")

    assert first == second
    files = sorted(p.relative_to(tmp_path / "first") for p in (tmp_path / "first").rglob("*"))
    for relative in files:
        if (tmp_path / "first" / relative).is_file():
            original = (tmp_path / "first" / relative).read_bytes()
            assert original == (tmp_path / "second" / relative).read_bytes(), relative
    assert other_seed.model_digest != first.model_digest


def test_the_documented_remote_setup_keeps_a_password_starting_with_a_dash(tmp_path: Path):
    """docs/model.md's `dvc remote` lines, run as a user pastes them, with a password that
    starts with '-' (1 in 64 of the platform's generated ones): it lands in config.local only."""
    block = (Path(__file__).parents[2] / "docs/model.md").read_text()
    lines = [line for line in block.splitlines() if line.startswith("dvc remote ")]
    assert len(lines) == 5, lines
    run("git", "init", "-q", cwd=tmp_path)
    run(DVC, "init", "-q", cwd=tmp_path)
    script = "\n".join(["set -e", *(f"{DVC}{line.removeprefix('dvc')}" for line in lines)])
    login = {"MLFLOW_TRACKING_USERNAME": "data-scientist", "MLFLOW_TRACKING_PASSWORD": "-Xy_z"}
    run("bash", "-c", script, cwd=tmp_path, env=login)
    local = (tmp_path / ".dvc" / "config.local").read_text()
    assert "password = -Xy_z" in local and "user = data-scientist" in local
    assert "-Xy_z" not in (tmp_path / ".dvc" / "config").read_text()

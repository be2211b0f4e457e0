"""The training CronJob's own container command (`python -m model train --model-name <model>
--data mlflow-artifacts:/... --json`, as the prod render declares it) run for real against the
session's real `mlflow server --app-name platform-auth` as the pipeline user (the login the
CronJob's Secret holds), reading its dataset through MLflow's proxied artifact API.

Two substitutions, both stated: the in-cluster tracking URI becomes the local server's (cluster
DNS), and the registered model gets a unique name with `--spec <model>` (the server is shared
with other suites, whose versions of `iris` would otherwise take part in the gate).
"""

import hashlib
import json
import os
import subprocess
import sys
import uuid

import pytest
from mlflow import MlflowClient
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from sklearn.datasets import load_iris

from tests.training.support import REPO_ROOT, of_kind

GATE_FAILED = 3
TRAIN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def dataset(mlflow_server, tmp_path_factory, monkeypatch_module) -> tuple[str, str]:
    """(URI, sha256) of iris as a CSV uploaded under the artifact store's datasets/."""
    bunch = load_iris(as_frame=True)
    frame = bunch.data.copy()
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    frame["species"] = [str(bunch.target_names[code]) for code in bunch.target]
    directory = tmp_path_factory.mktemp("dataset") / uuid.uuid4().hex[:8]
    directory.mkdir()
    path = directory / "iris.csv"
    frame.to_csv(path, index=False)
    # The data is put there by an operator (the admin here), not by the Job.
    for key, value in mlflow_server.admin_env.items():
        monkeypatch_module.setenv(key, value)
    # Under the Default experiment (0): MLflow's basic-auth judges a proxied artifact by the
    # experiment that leads its path, and refuses non-admins a path that names none.
    folder = f"mlflow-artifacts:/0/datasets/{directory.name}"
    get_artifact_repository(folder).log_artifact(str(path))
    uri = f"{folder}/iris.csv"
    return uri, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _job_command(rendered_prod, dataset_uri: str, model_name: str) -> list[str]:
    (cronjob,) = [
        c for c in of_kind(rendered_prod, "CronJob") if c["metadata"]["name"] == "iris-training"
    ]
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    args = list(container["args"])
    spec = args[args.index("--model-name") + 1]
    args[args.index("--model-name") + 1] = model_name
    # The Job pulls its data version from the stack's Git repository; here the file in the
    # artifact store stands in for it (tests/model/test_model_versioned_data.py pulls with DVC).
    start = args.index("--data-repo")
    assert args[start + 4] == "--skip-unchanged", args
    args[start : start + 4] = ["--data", dataset_uri]
    return [sys.executable, *container["command"][1:], *args, "--spec", spec]


def _run(command: list[str], mlflow_server, tmp_path) -> subprocess.CompletedProcess:
    ambient = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env={**ambient, **mlflow_server.pipeline_env, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_S,
    )


def test_the_job_registers_a_version_logs_the_dataset_and_moves_candidate_only_past_the_gate(
    rendered_prod, mlflow_server, dataset, tmp_path
):
    uri, sha256 = dataset
    model_name = f"iris-retrain-{uuid.uuid4().hex[:8]}"
    command = _job_command(rendered_prod, uri, model_name)
    first = _run(command, mlflow_server, tmp_path)
    assert first.returncode == 0, first.stderr
    trained = json.loads(first.stdout)
    assert trained["gate"]["passed"] is True and trained["candidate"] is True
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    version = client.get_model_version(model_name, trained["version"])
    assert version.tags["dataset_hash"] == trained["dataset_hash"]
    assert version.tags["dataset_uri"] == uri
    assert version.tags["dataset_content_sha256"] == sha256
    run = client.get_run(trained["run_id"])
    assert run.data.tags["dataset_content_sha256"] == sha256
    assert client.get_model_version_by_alias(model_name, "candidate").version == trained["version"]

    promote = [sys.executable, "-m", "model", "promote", "--model-name", model_name, "--json"]
    promoted = _run(promote, mlflow_server, tmp_path)
    assert promoted.returncode == 0, promoted.stderr

    # The schedule retrains on new data only: the same rows again register nothing.
    again = _run(command, mlflow_server, tmp_path)
    assert again.returncode == 0, again.stderr
    skipped = json.loads(again.stdout)
    assert {key: skipped[key] for key in ("model_name", "skipped", "version", "dataset_hash")} == {
        "model_name": model_name, "skipped": True,
        "version": trained["version"], "dataset_hash": trained["dataset_hash"],
    }  # fmt: skip
    assert "unchanged" in skipped["detail"]
    assert len(client.search_model_versions(f"name='{model_name}'")) == 1

    # A much more regularised model on the same data, forced past the new-data check: the gate
    # fails, the candidate stays.
    forced = [arg for arg in command if arg != "--skip-unchanged"]
    worse = _run([*forced, "--param", "C=0.001"], mlflow_server, tmp_path)
    assert worse.returncode == GATE_FAILED, worse.stderr
    failed = json.loads(worse.stdout)
    assert failed["gate"]["passed"] is False and failed["candidate"] is False
    assert int(failed["version"]) > int(trained["version"])
    assert client.get_model_version_by_alias(model_name, "candidate").version == trained["version"]

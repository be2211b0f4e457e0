"""Continuous training on logged-and-labelled data, as a declared dataset (issue 28): the real
model server answers iris rows through the executor stand-in (localrun/executor_stand_in.py, the
v1.17.1 logger payloads; no Go executor here), feedback sends each row's true species, the real
sink (`python -m request_log`) writes `labelled.parquet` into the real MLflow server's artifact
store as the request-log user (its own login, which writes nothing else), and the training
CronJob's own command, run as the pipeline user, built by
infra/training/cronjob.py from `training.dataset: mlflow-artifacts:/0/request-logs/...`, trains
on it and registers a version recording that export.

As in tests/training/test_training_job.py, the registered model gets a unique name with
`--spec iris` (the server is shared with other suites) and the tracking URI is the local one.
"""

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from sklearn.datasets import load_iris

from infra.deployments.config import TrainingConfig
from infra.request_logging.builders import DESTINATION
from infra.training.config import TrainingTarget
from infra.training.cronjob import training_cronjob
from localrun.request_log_process import RequestLogSinkProcess
from localrun.server_process import ModelServerProcess
from model.conventions import TAG_GATE_PASSED, TAG_GATE_VERDICT
from model.specs import load_spec
from tests.request_log.support import stand_in
from tests.support.stacks import REPO_ROOT

ROWS_PER_REQUEST = 5
TRAIN_TIMEOUT_S = 300
SPEC = load_spec("iris")
DEPLOYMENT = f"iris-{uuid.uuid4().hex[:8]}"
UNNAMED = f"{DEPLOYMENT}-unnamed"
"""A second deployment logged with the sink's defaults (`x0`..., `label`): not the spec's."""


@pytest.fixture(scope="module")
def sink(mlflow_server) -> Iterator[RequestLogSinkProcess]:
    """The sink writing to the artifact store as the request-log user, as the stack runs it;
    the module's MLflow clients read the export and the registry as the pipeline user, as the
    training does."""
    columns = {"featureNames": SPEC.dataset_schema.feature_names,
               "labelColumn": SPEC.dataset_schema.target.name}  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        for key, value in mlflow_server.request_log_env.items():
            patch.setenv(key, value)
        process = RequestLogSinkProcess(
            {f"seldon/{DEPLOYMENT}": columns, f"seldon/{UNNAMED}": {}}, destination=DESTINATION
        )
        for key, value in mlflow_server.pipeline_env.items():
            patch.setenv(key, value)
        with process:
            yield process


def _log_iris(model_server: ModelServerProcess, sink_url: str, deployment: str) -> int:
    """Every iris row predicted through the stand-in, then its true species sent as feedback
    under the prediction's puid. Returns the rows labelled."""
    bunch = load_iris()
    rows = bunch.data.tolist()
    species = [str(bunch.target_names[code]) for code in bunch.target]
    session = requests.Session()
    with stand_in(model_server, f"{sink_url}/", deployment) as executor:
        for start in range(0, len(rows), ROWS_PER_REQUEST):
            request = {"data": {"ndarray": rows[start : start + ROWS_PER_REQUEST]}}
            url = f"{executor.url}/api/v1.0"
            answer = session.post(f"{url}/predictions", json=request, timeout=30)
            assert answer.status_code == 200, answer.text
            truth = [[label] for label in species[start : start + ROWS_PER_REQUEST]]
            feedback = {"request": request, "response": answer.json(),
                        "truth": {"data": {"ndarray": truth}}}  # fmt: skip
            headers = {"Seldon-Puid": answer.headers["Seldon-Puid"]}
            sent = session.post(f"{url}/feedback", json=feedback, headers=headers, timeout=30)
            assert sent.status_code == 200, sent.text
        assert executor.drained(timeout=60)
    assert (executor.failed, executor.dropped) == (0, 0)
    return len(rows)


@pytest.fixture(scope="module")
def exported(model_server: ModelServerProcess, sink: RequestLogSinkProcess) -> dict:
    """The sink's export of both deployments after every iris row was labelled."""
    for deployment in (DEPLOYMENT, UNNAMED):
        _log_iris(model_server, sink.url, deployment)
    answer = requests.post(f"{sink.url}/export", timeout=120)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _train(deployment: str, model_name: str, mlflow_server, tmp_path: Path):
    """The training CronJob's container command for `training.dataset` = the deployment's
    `labelled.parquet`, run as the pipeline user."""
    uri = f"{DESTINATION}/seldon/{deployment}/labelled.parquet"
    training = TrainingConfig.model_validate({"schedule": "0 3 * * 0", "dataset": uri})
    target = TrainingTarget(deployment=deployment, namespace="seldon",
                            registered_model=SPEC.name, training=training)  # fmt: skip
    cronjob = training_cronjob(target, image="training", tracking_uri=mlflow_server.url,
                               dvc_remote="", login_env=[], ledger_secret="ledger",
                               pull_secret=None)  # fmt: skip
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    args = list(container["args"])
    assert args[args.index("--data") + 1] == uri
    args[args.index("--model-name") + 1] = model_name
    command = [sys.executable, *container["command"][1:], *args, "--spec", SPEC.name]
    ambient = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    completed = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=TRAIN_TIMEOUT_S,
        env={**ambient, **mlflow_server.pipeline_env, "HOME": str(tmp_path)},
    )  # fmt: skip
    return uri, completed


def test_training_registers_a_version_of_the_labelled_export_executor_stand_in(
    exported: dict, mlflow_server, tmp_path: Path
) -> None:
    written = exported[f"seldon/{DEPLOYMENT}"]
    assert (written["rows"], written["labelled"], written["skipped"]) == (150, 150, 0)
    model_name = f"iris-logged-{uuid.uuid4().hex[:8]}"
    uri, completed = _train(DEPLOYMENT, model_name, mlflow_server, tmp_path)
    assert completed.returncode == 0, completed.stderr
    trained = json.loads(completed.stdout)
    assert trained["gate"]["passed"] is True and trained["candidate"] is True

    local = download_artifacts(artifact_uri=uri, dst_path=str(tmp_path / "export"),
                               tracking_uri=mlflow_server.url)  # fmt: skip
    sha256 = hashlib.sha256(Path(local).read_bytes()).hexdigest()
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    version = client.get_model_version(model_name, trained["version"])
    assert version.tags["dataset_uri"] == uri
    assert version.tags["dataset_content_sha256"] == sha256
    assert version.tags["dataset_hash"] == trained["dataset_hash"]
    assert version.tags[TAG_GATE_PASSED] == "true"
    assert json.loads(version.tags[TAG_GATE_VERDICT])["passed"] is True


def test_an_export_without_the_specs_columns_is_refused_naming_them_executor_stand_in(
    exported: dict, mlflow_server, tmp_path: Path
) -> None:
    assert exported[f"seldon/{UNNAMED}"]["labelled"] == 150
    model_name = f"iris-unnamed-{uuid.uuid4().hex[:8]}"
    _, completed = _train(UNNAMED, model_name, mlflow_server, tmp_path)
    assert completed.returncode != 0
    expected = [*SPEC.dataset_schema.feature_names, SPEC.dataset_schema.target.name]
    assert f"the schema declares {expected}" in completed.stderr, completed.stderr
    assert "missing columns" in completed.stderr and "'x0'" in completed.stderr
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    assert client.search_model_versions(f"name='{model_name}'") == []

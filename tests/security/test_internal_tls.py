"""Credentials cross the cluster only over TLS: the real MLflow server (`--app-name
platform-auth`, the deploy's `--uvicorn-opts` from `infra/internal_tls.py`) serving a test CA's
certificate. A client holding the CA (`MLFLOW_TRACKING_SERVER_CERT_PATH`, as every platform pod
is given) logs in and works; one without it fails verification before sending its login; plain
HTTP on the same port gets no answer. The clients themselves, each with the environment the
render gives its pod: the model download of predictors and shadows (serving user), the pin
command (reader user) and the request-log sink's artifact export (request-log user)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import requests

from infra.internal_tls import MLFLOW_CA_ENV
from localrun.tls_files import issue_tls_files
from tests.support.mlflow_server import MlflowServer, isolated_env, running_mlflow


@pytest.fixture(scope="module")
def tls_mlflow(tmp_path_factory) -> Iterator[MlflowServer]:
    tls = issue_tls_files(tmp_path_factory.mktemp("mlflow-tls"))
    with running_mlflow(tmp_path_factory.mktemp("mlflow-tls-server"), tls) as server:
        server.ca_file = tls.ca_file
        yield server


def test_a_client_with_the_platform_ca_logs_in_and_works(tls_mlflow) -> None:
    from mlflow import MlflowClient

    assert tls_mlflow.url.startswith("https://")
    env = {**tls_mlflow.pipeline_env, MLFLOW_CA_ENV: str(tls_mlflow.ca_file)}
    with mock.patch.dict(os.environ, env):
        client = MlflowClient(tracking_uri=tls_mlflow.url, registry_uri=tls_mlflow.url)
        experiment_id = client.create_experiment("over-tls")
        assert client.get_experiment(experiment_id).name == "over-tls"


def test_a_client_without_the_ca_fails_verification(tls_mlflow) -> None:
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(
            f"{tls_mlflow.url}/api/2.0/mlflow/experiments/search",
            auth=tuple(tls_mlflow.logins["pipeline"]),
            verify=True,  # the system's CAs, which do not hold the platform's
            timeout=10,
        )


def test_plain_http_gets_no_answer(tls_mlflow) -> None:
    plain = tls_mlflow.url.replace("https://", "http://", 1)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{plain}/health", timeout=10)


def _as(server: MlflowServer, role: str) -> dict[str, str]:
    """A platform pod's MLflow environment as the render gives it: the https URL, the role's
    login and the CA bundle."""
    return {**server.env_for(role), MLFLOW_CA_ENV: str(server.ca_file)}


@pytest.fixture(scope="module")
def pinned_version(tls_mlflow, tmp_path_factory) -> dict[str, str]:
    """A version registered over TLS by the pipeline user (its files: an `MLmodel`, all a
    download needs), aliased `champion` with its digest tag, and on the served-versions list."""
    from mlflow import MlflowClient

    name = f"tls-{uuid.uuid4().hex[:8]}"
    files = tmp_path_factory.mktemp("tls-model")
    (files / "MLmodel").write_text("flavors: {}\n")
    with mock.patch.dict(os.environ, _as(tls_mlflow, "pipeline")):
        client = MlflowClient(tracking_uri=tls_mlflow.url, registry_uri=tls_mlflow.url)
        run = client.create_run(client.create_experiment(name))
        client.log_artifacts(run.info.run_id, str(files), artifact_path="model")
        client.create_registered_model(name)
        digest = "sha256:" + "a" * 64
        version = client.create_model_version(
            name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id,
            tags={"model_digest": digest},
        ).version  # fmt: skip
        client.set_registered_model_alias(name, "champion", version)
    tls_mlflow.serve(f"{name}/{version}")
    return {"name": name, "version": str(version), "digest": digest}


def test_a_predictor_downloads_its_pinned_version_over_tls(tls_mlflow, pinned_version) -> None:
    """The model container's download (a predictor's MODEL_URI, a shadow's COMPARE_MODEL_URI):
    `serving/model_download.py` as the serving user with the CA bundle."""
    result = subprocess.run(
        [sys.executable, "-m", "serving.model_download", pinned_version["name"],
         pinned_version["version"], ""],
        env=isolated_env(**_as(tls_mlflow, "serving")),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (Path(json.loads(result.stdout)["local_dir"]) / "MLmodel").is_file()


def test_the_pin_command_reads_the_registry_over_tls_as_the_reader(
    tls_mlflow, pinned_version
) -> None:
    """`python -m release pin`'s registry client with the reader's login and the CA bundle; the
    same login without the CA is refused at the handshake, naming the CA setting."""
    from release.registry import ModelRegistry, RegistryError

    with mock.patch.dict(os.environ, _as(tls_mlflow, "reader")):
        model = ModelRegistry.from_environment(tls_mlflow.url).registered_model(
            pinned_version["name"]
        )
    assert {a["alias"]: a["version"] for a in model["aliases"]} == {
        "champion": pinned_version["version"]
    }
    reader = tls_mlflow.logins["reader"]
    without_ca = ModelRegistry(tls_mlflow.url, username=reader.username, password=reader.password)
    with pytest.raises(RegistryError, match="MLFLOW_TRACKING_SERVER_CERT_PATH"):
        without_ca.registered_model(pinned_version["name"])


def test_the_request_log_sinks_export_reaches_mlflow_over_tls(tls_mlflow, tmp_path) -> None:
    """The sink's artifact repository (`request_log/publish.py`) at the rendered destination
    `mlflow-artifacts:/0/request-logs`, as the request-log user with the CA bundle."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    export = tmp_path / "labelled.parquet"
    export.write_bytes(b"joined rows")
    with mock.patch.dict(os.environ, _as(tls_mlflow, "request-log")):
        repository = get_artifact_repository("mlflow-artifacts:/0/request-logs/seldon/iris")
        repository.log_artifact(str(export))
        listed = {Path(entry.path).name for entry in repository.list_artifacts()}
    assert "labelled.parquet" in listed

"""Credentials cross the cluster only over TLS: the real MLflow server (`--app-name
platform-auth`, the deploy's `--uvicorn-opts` from `infra/internal_tls.py`) serving a test CA's
certificate. A client holding the CA (`MLFLOW_TRACKING_SERVER_CERT_PATH`, as every platform pod
is given) logs in and works; one without it fails verification before sending its login; plain
HTTP on the same port gets no answer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from unittest import mock

import pytest
import requests

from infra.internal_tls import MLFLOW_CA_ENV
from localrun.tls_files import issue_tls_files
from tests.support.mlflow_server import MlflowServer, running_mlflow


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

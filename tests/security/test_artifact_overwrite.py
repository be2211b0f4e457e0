"""No identity but the admin uploads over an artifact file that exists (finding: the pipeline
login replaced a served version's `model.pkl`), on the real server set up as the deploy sets it
up (`mlflow_server`). Existence is asked of MLflow's artifact store at request time
(`artifact_writes.py`); only a deployment's newest request-log export is rewritten."""

from __future__ import annotations

import uuid

import pytest
from mlflow import MlflowClient

from tests.security.route_calls import _session, platform_denied

PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")


def _write(server, role: str, method: str, url_path: str, body: bytes = b"first"):
    login = server.logins[role]
    return _session().request(
        method,
        f"{server.url}{url_path}",
        data=body,
        auth=(login.username, login.password),
        timeout=60,
    )


@pytest.fixture(scope="module")
def run_root(mlflow_server) -> str:
    """A pipeline run's artifact directory, `<experiment>/<run>/artifacts`, as training makes."""
    client = MlflowClient(tracking_uri=mlflow_server.url)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in mlflow_server.pipeline_env.items():
            patch.setenv(key, value)
        experiment = client.create_experiment(f"overwrite-{uuid.uuid4().hex[:8]}")
        run = client.create_run(experiment)
    return f"{experiment}/{run.info.run_id}/artifacts"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_pipeline_writes_a_file_once(mlflow_server, run_root, prefix) -> None:
    path = f"{run_root}/model-{uuid.uuid4().hex[:6]}/model.pkl"
    assert _write(mlflow_server, "pipeline", "PUT", f"{prefix}/artifacts/{path}").status_code == 200

    again = _write(mlflow_server, "pipeline", "PUT", f"{prefix}/artifacts/{path}", b"rogue")
    assert platform_denied(again), (again.status_code, again.text)
    assert f"artifact {path} exists and is never overwritten" in again.text
    # The same file by a dotted path, and a multipart upload over it, are refused too.
    dotted = path.replace("/artifacts/", "/artifacts/./", 1)
    for method, url in (
        ("PUT", f"{prefix}/artifacts/{dotted}"),
        ("POST", f"{prefix}/mpu/create/{path}"),
        ("POST", f"{prefix}/mpu/complete/{path}"),
    ):
        answer = _write(mlflow_server, "pipeline", method, url, b"rogue")
        assert platform_denied(answer), (method, url, answer.status_code)
        assert "exists and is never overwritten" in answer.text
    read = _write(mlflow_server, "pipeline", "GET", f"{prefix}/artifacts/{path}", b"")
    assert (read.status_code, read.content) == (200, b"first")


def test_the_admin_may_still_replace_a_file(mlflow_server, run_root) -> None:
    path = f"/api/2.0/mlflow-artifacts/artifacts/{run_root}/admin-{uuid.uuid4().hex[:6]}.txt"
    assert _write(mlflow_server, "pipeline", "PUT", path).status_code == 200
    assert _write(mlflow_server, "admin", "PUT", path, b"second").status_code == 200
    read = _write(mlflow_server, "pipeline", "GET", path, b"")
    assert (read.status_code, read.content) == (200, b"second")


def test_request_logs_are_rewritten(mlflow_server) -> None:
    """The sink replaces `labelled.parquet` on every export (`request_log/publish.py`)."""
    path = f"/api/2.0/mlflow-artifacts/artifacts/0/request-logs/seldon/{uuid.uuid4().hex[:8]}"
    for body in (b"first", b"second"):
        answer = _write(mlflow_server, "request-log", "PUT", f"{path}/labelled.parquet", body)
        assert answer.status_code == 200, answer.text
    read = _write(mlflow_server, "pipeline", "GET", f"{path}/labelled.parquet", b"")
    assert (read.status_code, read.content) == (200, b"second")


def test_a_written_request_log_version_is_not_rewritten(mlflow_server) -> None:
    """A version under `versions/<stamp>/` is written once (`request_log/publish.py`), even by
    the sink's own login: only `labelled.parquet` beside it is replaced."""
    path = (
        "/api/2.0/mlflow-artifacts/artifacts/0/request-logs/seldon/"
        f"{uuid.uuid4().hex[:8]}/versions/20261207T000000000000Z/logged.parquet"
    )
    assert _write(mlflow_server, "request-log", "PUT", path).status_code == 200
    again = _write(mlflow_server, "request-log", "PUT", path, b"rogue")
    assert platform_denied(again), (again.status_code, again.text)
    assert "exists and is never overwritten" in again.text
    read = _write(mlflow_server, "pipeline", "GET", path, b"")
    assert (read.status_code, read.content) == (200, b"first")

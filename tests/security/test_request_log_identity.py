"""The request-log identity (the sinks' login, `python -m request_log`) on the real server set up
as the deploy sets it up (`mlflow_server`): it uploads, lists and expires files under
`0/request-logs/` and is refused everything else by the platform's rules (`artifact_writes.py`),
whatever MLflow's MANAGE grant on the Default experiment would allow. The sink's own export
(`request_log.publish.export_deployment`) runs as it, and the pipeline user reads what it wrote.
Its row of the identity x write-route check is here (a file of its own, so xdist's `--dist
loadfile` can run it beside test_write_routes.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from infra.request_logging.builders import DESTINATION
from request_log.events import LoggedEvent
from request_log.publish import export_deployment
from request_log.settings import DeploymentLogging
from request_log.store import JoinStore
from tests.security.mlflow_routes import user_read_routes, write_routes
from tests.security.route_calls import _session, call, outcomes, platform_denied

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
AJAX_ARTIFACTS = "/ajax-api/2.0/mlflow-artifacts/artifacts"
KEY = f"seldon/iris-{uuid.uuid4().hex[:8]}"
"""A deployment of this module alone (the server is shared with other suites)."""
EXPIRED = "20000101T000000000000Z"


def test_request_log_is_refused_every_write_route_with_a_path_outside_its_logs(
    mlflow_server,
) -> None:
    """Every write route of the installed MLflow (placeholder paths name no request log): 403
    by the platform, none reaches MLflow."""
    wrong = {
        route: response.status_code
        for route, response in outcomes(mlflow_server, "request-log", write_routes()).items()
        if not platform_denied(response)
    }
    assert wrong == {}


def test_request_log_reads_nothing_but_its_listing(mlflow_server) -> None:
    reads = [
        *user_read_routes(),
        ("GET", "/api/2.0/mlflow/users/current"),
        ("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0"),
        ("GET", "/api/2.0/mlflow/experiments/search"),
        ("GET", "/api/2.0/mlflow/registered-models/search"),
        ("GET", f"{ARTIFACTS}?path=0"),
        ("GET", f"{ARTIFACTS}/0/request-logs/{KEY}/labelled.parquet"),
        ("POST", "/api/2.0/mlflow/runs/search"),
    ]
    wrong = {
        route: response.status_code
        for route, response in outcomes(mlflow_server, "request-log", reads).items()
        if not platform_denied(response)
    }
    assert wrong == {}


def _put(server, role: str, path: str, prefix: str = ARTIFACTS):
    login = server.logins[role]
    return _session().put(
        f"{server.url}{prefix}/{path}",
        data=b"bytes",
        auth=(login.username, login.password),
        timeout=60,
    )


@pytest.mark.parametrize("prefix", [ARTIFACTS, AJAX_ARTIFACTS])
def test_request_log_uploads_and_rewrites_under_its_logs_only(mlflow_server, prefix) -> None:
    own = f"0/request-logs/{KEY}/labelled.parquet"
    assert _put(mlflow_server, "request-log", own, prefix).status_code == 200
    assert _put(mlflow_server, "request-log", own, prefix).status_code == 200  # rewritten
    for path in (
        "0/elsewhere/x.parquet",
        "0/request-logs",
        "1/request-logs/x.parquet",
        "0/request-logs/../x.parquet",
        "0/request-logs/%2e%2e/x.parquet",
        f"0/{uuid.uuid4().hex}/artifacts/model.pkl",
    ):
        answer = _put(mlflow_server, "request-log", path, prefix)
        assert platform_denied(answer), (path, answer.status_code, answer.text)
        assert "request-log identity only writes, lists and expires files" in answer.text


def test_request_log_deletes_only_an_expired_version(mlflow_server) -> None:
    version = f"0/request-logs/{KEY}/versions/{EXPIRED}"
    assert _put(mlflow_server, "request-log", f"{version}/logged.parquet").status_code == 200
    for path in (f"0/request-logs/{KEY}/labelled.parquet", f"0/request-logs/{KEY}", "0"):
        answer = call(mlflow_server, "request-log", "DELETE", f"{ARTIFACTS}/{path}")
        assert platform_denied(answer), (path, answer.status_code)
        assert "it deletes only 0/request-logs/<namespace>/<deployment>/versions/<stamp>" in (
            answer.text
        )
    assert call(mlflow_server, "request-log", "DELETE", f"{ARTIFACTS}/{version}").status_code == 200


@pytest.fixture
def as_request_log(mlflow_server) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in mlflow_server.request_log_env.items():
            patch.setenv(key, value)
        yield


def _logged(store: JoinStore, key: str, request_id: str) -> None:
    namespace, deployment = key.split("/")
    for kind, body in (
        ("request", {"data": {"names": ["a", "b"], "ndarray": [[1.0, 2.0]]}}),
        ("response", {"data": {"names": ["p"], "ndarray": [[0.5]]}, "meta": {"tags": {}}}),
        ("feedback", {"truth": {"data": {"ndarray": [["setosa"]]}}}),
    ):
        store.add(LoggedEvent(kind, request_id, namespace, deployment, "champion", body))


def test_the_sinks_export_runs_as_request_log_and_the_pipeline_reads_it(
    mlflow_server, as_request_log, tmp_path: Path
) -> None:
    """Two exports (the second rewrites `labelled.parquet`) with retention expiring a version
    written long ago: every call the sink makes passes, and the training's login reads the
    newest export."""
    key = f"seldon/iris-{uuid.uuid4().hex[:8]}"
    old = f"0/request-logs/{key}/versions/{EXPIRED}/logged.parquet"
    assert _put(mlflow_server, "request-log", old).status_code == 200
    store = JoinStore(tmp_path / "join.sqlite")
    _logged(store, key, "first")
    first, _ = export_deployment(store, key, DeploymentLogging(retention_days=2), DESTINATION)
    time.sleep(0.001)  # a new stamp (microseconds) for the second version
    _logged(store, key, "second")
    second, counts = export_deployment(store, key, DeploymentLogging(retention_days=2), DESTINATION)
    assert counts.labelled == 2

    versions = f"0/request-logs/{key}/versions"
    listing = call(mlflow_server, "pipeline", "GET", f"{ARTIFACTS}?path={versions}")
    assert listing.status_code == 200, listing.text
    assert sorted(entry["path"] for entry in listing.json()["files"]) == sorted([first, second])
    newest = call(
        mlflow_server, "pipeline", "GET", f"{ARTIFACTS}/0/request-logs/{key}/labelled.parquet"
    )
    assert newest.status_code == 200
    (tmp_path / "labelled.parquet").write_bytes(newest.content)
    table = pq.read_table(tmp_path / "labelled.parquet")
    assert table.num_rows == 2 and table.column("label").to_pylist() == ["setosa", "setosa"]

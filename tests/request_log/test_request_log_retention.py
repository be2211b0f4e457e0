"""Retention in the sink: rows first logged before `retentionDays` are deleted from the join
table, and written versions older than that from the artifact store, at each export."""

import time
from pathlib import Path

import pyarrow.parquet as pq

from request_log.events import LoggedEvent
from request_log.publish import export_deployment
from request_log.settings import DeploymentLogging
from request_log.store import JoinStore

KEY = "seldon/iris"


def _logged(store: JoinStore, request_id: str) -> None:
    for kind, body in (
        ("request", {"data": {"names": ["a", "b"], "ndarray": [[1.0, 2.0]]}}),
        ("response", {"data": {"names": ["p"], "ndarray": [[0.5]]}, "meta": {"tags": {}}}),
    ):
        store.add(LoggedEvent(kind, request_id, "seldon", "iris", "champion", body))


def test_old_rows_and_versions_are_deleted_at_export(tmp_path: Path, monkeypatch) -> None:
    store = JoinStore(tmp_path / "join.sqlite")
    now = time.time()
    clock = iter([now - 3 * 86400, now - 3 * 86400])
    monkeypatch.setattr(time, "time", lambda: next(clock, now))
    _logged(store, "old")  # first logged three days ago
    _logged(store, "new")
    destination = tmp_path / "store"
    expired = destination / KEY / "versions" / "20000101T000000000000Z"
    expired.mkdir(parents=True)
    (expired / "logged.parquet").write_bytes(b"")

    stamp, counts = export_deployment(
        store, KEY, DeploymentLogging(retention_days=2), str(destination)
    )

    assert counts.rows == 1
    written = pq.read_table(destination / KEY / "versions" / stamp / "logged.parquet")
    assert written.column("request_id").to_pylist() == ["new"]
    assert not expired.exists()
    assert [row[0] for row in store.joined(KEY)] == ["new"]

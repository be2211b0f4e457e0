"""The sink's join table: one row per (deployment, request id) holding the logged request,
response and feedback as they arrive, in any order. SQLite on the sink's volume, so a restart
keeps what was logged but not yet written."""

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from request_log.events import LoggedEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS payloads (
    deployment TEXT NOT NULL,
    request_id TEXT NOT NULL,
    predictor TEXT,
    request TEXT,
    response TEXT,
    feedback TEXT,
    logged_at REAL NOT NULL,
    PRIMARY KEY (deployment, request_id)
)
"""


class JoinStore:
    """Thread-safe upserts of logged payloads and reads of the joined rows."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)
        self._lock = threading.Lock()

    def add(self, event: LoggedEvent) -> None:
        """Store one payload under its request id; a repeated kind replaces the earlier one."""
        column = event.kind  # one of request/response/feedback: never from the caller's text
        with self._lock:
            self._db.execute(
                f"INSERT INTO payloads (deployment, request_id, predictor, {column}, logged_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (deployment, request_id) DO UPDATE SET "
                f"{column} = excluded.{column}, "
                "predictor = COALESCE(payloads.predictor, excluded.predictor)",
                (
                    event.key,
                    event.joined_id(),
                    event.predictor,
                    json.dumps(event.body),
                    time.time(),
                ),
            )

    def joined(self, deployment: str) -> Iterator[tuple]:
        """(request_id, predictor, request, response, feedback or None, logged_at) of every
        request of `deployment` whose request and response both arrived, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT request_id, predictor, request, response, feedback, logged_at "
                "FROM payloads WHERE deployment = ? AND request IS NOT NULL "
                "AND response IS NOT NULL ORDER BY logged_at, request_id",
                (deployment,),
            ).fetchall()
        for request_id, predictor, request, response, feedback, logged_at in rows:
            yield (
                request_id,
                predictor,
                json.loads(request),
                json.loads(response),
                json.loads(feedback) if feedback else None,
                logged_at,
            )

    def deployments(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT DISTINCT deployment FROM payloads")]

    def prune(self, deployment: str, before: float) -> int:
        """Delete the deployment's rows first logged before `before` (epoch seconds)."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM payloads WHERE deployment = ? AND logged_at < ?", (deployment, before)
            )
            return cursor.rowcount

"""Where the lifecycle keeps its records, decided without importing MLflow (the CLI stays fast).

With nothing running, the store is a SQLite file in the repository and artifacts sit beside it, so
the same paths are used whichever directory the CLI runs from.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRACKING_URI = f"sqlite:///{REPO_ROOT / 'mlflow.db'}"
ARTIFACTS_DIRNAME = "mlartifacts"
_SQLITE_FILE_PREFIX = "sqlite:///"


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """The explicit URI, else ``MLFLOW_TRACKING_URI``, else the repository's SQLite store."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def artifact_location(tracking_uri: str, experiment_name: str) -> str | None:
    """For a local SQLite store, ``<db dir>/mlartifacts/<experiment>``; a server chooses its own."""
    if not tracking_uri.startswith(_SQLITE_FILE_PREFIX):
        return None
    database = Path(unquote(urlparse(tracking_uri).path.removeprefix("/")))
    root = database.resolve().parent / ARTIFACTS_DIRNAME / experiment_name
    return root.as_uri()

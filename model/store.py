"""Where the lifecycle keeps its records: the MLflow tracking URI and experiment artifact roots.

With nothing running, the store is a SQLite file in the repository and artifacts sit beside it, so
the same paths are used whichever directory the CLI runs from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import mlflow
from mlflow import MlflowClient

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


@dataclass(frozen=True)
class Store:
    """An MLflow tracking store and model registry at one URI."""

    tracking_uri: str
    client: MlflowClient

    @classmethod
    def open(cls, tracking_uri: str | None = None) -> Store:
        """Connect to ``tracking_uri`` as resolved by :func:`resolve_tracking_uri`."""
        uri = resolve_tracking_uri(tracking_uri)
        return cls(uri, MlflowClient(tracking_uri=uri, registry_uri=uri))

    def ensure_experiment(self, name: str) -> str:
        """The id of experiment ``name``, created with the right artifact root if missing."""
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        return self.client.create_experiment(
            name, artifact_location=artifact_location(self.tracking_uri, name)
        )

    def download(self, artifact_uri: str, destination: Path) -> Path:
        """Fetch an artifact (file or directory) of this store into ``destination``."""
        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=artifact_uri, dst_path=str(destination), tracking_uri=self.tracking_uri
            )
        )

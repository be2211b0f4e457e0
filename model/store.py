"""The MLflow tracking store and model registry at one URI (see ``model.locations``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from model.locations import artifact_location, resolve_tracking_uri


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

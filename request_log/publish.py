"""Writes one version of a deployment's joined rows to the artifact store and drops the versions
and rows older than its retention. The store is reached through MLflow's artifact repositories
(`mlflow-artifacts:/` through the tracking server, or a local path), as `model/` reads datasets.

Layout under `<destination>/<namespace>/<deployment>/`: `versions/<UTC stamp>/logged.parquet`
and `labelled.parquet` (immutable), and `labelled.parquet`, the newest labelled version.
"""

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from request_log.export import ExportCounts, write_version
from request_log.settings import DeploymentLogging
from request_log.store import JoinStore

STAMP = "%Y%m%dT%H%M%S%fZ"


def _repository(uri: str):
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    return get_artifact_repository(uri)


def export_deployment(
    store: JoinStore, deployment: str, logging: DeploymentLogging, destination: str
) -> tuple[str, ExportCounts]:
    """Prune rows beyond retention, write a new version, drop expired versions.
    Returns the version's stamp and counts."""
    now = datetime.now(UTC)
    store.prune(deployment, time.time() - logging.retention_days * 86400)
    stamp = now.strftime(STAMP)
    repository = _repository(f"{destination}/{deployment}")
    with tempfile.TemporaryDirectory() as scratch:
        version = Path(scratch) / stamp
        counts = write_version(
            store.joined(deployment),
            version,
            feature_names=list(logging.feature_names) if logging.feature_names else None,
            label_column=logging.label_column,
        )
        repository.log_artifacts(str(version), f"versions/{stamp}")
        repository.log_artifact(str(version / "labelled.parquet"))
    oldest = (now - timedelta(days=logging.retention_days)).strftime(STAMP)
    for entry in repository.list_artifacts("versions"):
        if entry.is_dir and entry.path.rpartition("/")[2] < oldest:
            repository.delete_artifacts(entry.path)
    return stamp, counts

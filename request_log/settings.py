"""The sink's settings, from its environment (the platform sets them from the stack's
`deployments[].requestLogging`, infra/request_logging/)."""

import json
import os
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A setting the sink cannot start with; the message names the variable."""


@dataclass(frozen=True)
class DeploymentLogging:
    """One deployment's logging: kept share, retention, export cadence and columns."""

    sample_rate: float = 1.0
    retention_days: int = 30
    export_interval_minutes: int = 60
    feature_names: tuple[str, ...] | None = None
    label_column: str = "label"


@dataclass(frozen=True)
class SinkSettings:
    port: int
    database: Path
    destination: str
    deployments: dict[str, DeploymentLogging]


FIELDS = {
    "sampleRate": "sample_rate",
    "retentionDays": "retention_days",
    "exportIntervalMinutes": "export_interval_minutes",
    "featureNames": "feature_names",
    "labelColumn": "label_column",
}


def _deployment(key: str, value: object) -> DeploymentLogging:
    where = f"REQUEST_LOG_DEPLOYMENTS[{key!r}]"
    if not isinstance(value, dict) or set(value) - set(FIELDS):
        raise SettingsError(f"{where}: expected an object with keys {sorted(FIELDS)}")
    options = {FIELDS[name]: item for name, item in value.items()}
    if "feature_names" in options:
        options["feature_names"] = tuple(options["feature_names"])
    logging = DeploymentLogging(**options)
    if not 0 < logging.sample_rate <= 1:
        raise SettingsError(f"{where}.sampleRate: {logging.sample_rate} is not in (0, 1]")
    if logging.retention_days < 1 or logging.export_interval_minutes < 1:
        raise SettingsError(f"{where}: retentionDays and exportIntervalMinutes must be >= 1")
    return logging


def from_environment(environ=os.environ) -> SinkSettings:
    raw = environ.get("REQUEST_LOG_DEPLOYMENTS", "")
    try:
        declared = json.loads(raw)
    except ValueError:
        declared = None
    if not isinstance(declared, dict) or not declared:
        raise SettingsError(
            "REQUEST_LOG_DEPLOYMENTS must be a JSON object of '<namespace>/<deployment>' to its "
            f'settings, e.g. {{"seldon/iris": {{"sampleRate": 0.5}}}}; got {raw!r}'
        )
    destination = environ.get("REQUEST_LOG_DESTINATION", "")
    if not destination:
        raise SettingsError(
            "REQUEST_LOG_DESTINATION is required: the artifact store root the versions go to, "
            "e.g. mlflow-artifacts:/0/request-logs"
        )
    return SinkSettings(
        port=int(environ.get("REQUEST_LOG_PORT", "8080")),
        database=Path(environ.get("REQUEST_LOG_DATABASE", "/var/lib/request-log/join.sqlite")),
        destination=destination.rstrip("/"),
        deployments={key: _deployment(key, value) for key, value in declared.items()},
    )

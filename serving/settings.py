"""Runtime settings of the model server, read once from the environment."""

import os
from dataclasses import dataclass


class SettingsError(ValueError):
    """An environment variable is missing or holds an unusable value."""


def _positive_number(name: str, default: str, kind: type[int] | type[float]) -> int | float:
    raw = os.environ.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    if value < 0 or (kind is int and value == 0):
        expected = "a positive integer" if kind is int else "a number >= 0"
        raise SettingsError(f"{name}={raw!r}: expected {expected}")
    return value


@dataclass(frozen=True)
class ServerSettings:
    """What the operator can tune through the container environment."""

    model_uri: str
    max_batch_rows: int
    drift_window_rows: int
    drift_min_rows: int
    metrics_flush_seconds: float

    @classmethod
    def from_env(cls) -> "ServerSettings":
        model_uri = os.environ.get("MODEL_URI", "").strip()
        if not model_uri:
            raise SettingsError(
                "MODEL_URI is not set: expected a local MLflow model directory or "
                "models:/<name>/<version> or models:/<name>@<alias> (with MLFLOW_TRACKING_URI)"
            )
        return cls(
            model_uri=model_uri,
            max_batch_rows=_positive_number("MAX_BATCH_ROWS", "1000", int),
            drift_window_rows=_positive_number("DRIFT_WINDOW_ROWS", "1000", int),
            drift_min_rows=_positive_number("DRIFT_MIN_ROWS", "50", int),
            metrics_flush_seconds=_positive_number("METRICS_FLUSH_SECONDS", "1", float),
        )

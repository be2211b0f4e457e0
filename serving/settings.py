"""Runtime settings of the model server, read once from the environment."""

import os
import re
from dataclasses import dataclass

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


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


def _model_digest() -> str | None:
    raw = os.environ.get("MODEL_DIGEST", "").strip()
    if raw and not DIGEST.match(raw):
        raise SettingsError(
            f"MODEL_DIGEST={raw!r}: expected sha256:<64 lowercase hex digits>, the version's "
            "model_digest tag"
        )
    return raw or None


@dataclass(frozen=True)
class ServerSettings:
    """What the operator can tune through the container environment."""

    model_uri: str
    deployment: str
    predictor: str
    model_digest: str | None
    max_batch_rows: int
    max_request_bytes: int
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
            # Injected by the Seldon operator into every predictor's containers.
            deployment=os.environ.get("SELDON_DEPLOYMENT_ID", ""),
            predictor=os.environ.get("PREDICTOR_ID", ""),
            model_digest=_model_digest(),
            max_batch_rows=_positive_number("MAX_BATCH_ROWS", "1000", int),
            max_request_bytes=_positive_number("MAX_REQUEST_BYTES", "1048576", int),
            drift_window_rows=_positive_number("DRIFT_WINDOW_ROWS", "1000", int),
            drift_min_rows=_positive_number("DRIFT_MIN_ROWS", "50", int),
            metrics_flush_seconds=_positive_number("METRICS_FLUSH_SECONDS", "1", float),
        )

"""Runtime settings of the model server, read once from the environment."""

import math
import os
import re
from dataclasses import dataclass

from serving.http_server import HttpLimits

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


def _model_digest(name: str = "MODEL_DIGEST") -> str | None:
    raw = os.environ.get(name, "").strip()
    if raw and not DIGEST.match(raw):
        raise SettingsError(
            f"{name}={raw!r}: expected sha256:<64 lowercase hex digits>, the version's "
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
    compare_model_uri: str | None
    """A shadow's champion model (serving/shadow_comparison.py); None elsewhere."""
    compare_model_digest: str | None
    max_batch_rows: int
    max_request_bytes: int
    drift_window_rows: int
    drift_min_rows: int
    reward_range: tuple[float, float]
    workers: int
    http_port: int
    grpc_port: int
    metrics_port: int
    metrics_path: str
    http: HttpLimits

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
            compare_model_uri=os.environ.get("COMPARE_MODEL_URI", "").strip() or None,
            compare_model_digest=_model_digest("COMPARE_MODEL_DIGEST"),
            max_batch_rows=_positive_number("MAX_BATCH_ROWS", "1000", int),
            max_request_bytes=_positive_number("MAX_REQUEST_BYTES", "1048576", int),
            drift_window_rows=_positive_number("DRIFT_WINDOW_ROWS", "1000", int),
            drift_min_rows=_positive_number("DRIFT_MIN_ROWS", "50", int),
            reward_range=_reward_range(),
            workers=_positive_number("SERVER_WORKERS", "1", int),
            # Set by the Seldon operator on every model container.
            http_port=_positive_number("PREDICTIVE_UNIT_HTTP_SERVICE_PORT", "9000", int),
            grpc_port=_positive_number("PREDICTIVE_UNIT_GRPC_SERVICE_PORT", "9500", int),
            metrics_port=_positive_number("PREDICTIVE_UNIT_METRICS_SERVICE_PORT", "6000", int),
            metrics_path=os.environ.get("PREDICTIVE_UNIT_METRICS_ENDPOINT", "/prometheus"),
            http=HttpLimits(
                header_timeout_s=_seconds("HTTP_HEADER_TIMEOUT_SECONDS", "10"),
                body_timeout_s=_seconds("HTTP_BODY_TIMEOUT_SECONDS", "30"),
                write_timeout_s=_seconds("HTTP_WRITE_TIMEOUT_SECONDS", "30"),
                keepalive_s=_seconds("HTTP_KEEPALIVE_SECONDS", "75"),
                max_request_bytes=_positive_number("MAX_REQUEST_BYTES", "1048576", int),
                max_connections=_positive_number("HTTP_MAX_CONNECTIONS", "1000", int),
            ),
        )


def _seconds(name: str, default: str) -> float:
    value = _positive_number(name, default, float)
    if value == 0:
        raise SettingsError(f"{name}={value!r}: expected a number of seconds > 0")
    return value


def _reward_range() -> tuple[float, float]:
    """[FEEDBACK_REWARD_MIN, FEEDBACK_REWARD_MAX], finite and in order."""
    bounds = []
    for name, default in (("FEEDBACK_REWARD_MIN", "0"), ("FEEDBACK_REWARD_MAX", "1")):
        raw = os.environ.get(name, default)
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise SettingsError(f"{name}={raw!r}: expected a finite number")
        bounds.append(value)
    if bounds[0] < 0:
        raise SettingsError(
            f"FEEDBACK_REWARD_MIN={bounds[0]:g}: expected >= 0; the reward sum is a Prometheus "
            "counter, which never decreases"
        )
    if bounds[0] > bounds[1]:
        raise SettingsError(
            f"FEEDBACK_REWARD_MIN={bounds[0]} is above FEEDBACK_REWARD_MAX={bounds[1]}: "
            "expected MIN <= MAX"
        )
    return bounds[0], bounds[1]

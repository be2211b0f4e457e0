"""Bounded MLflow HTTP retries for the CLI, so an unreachable registry fails in seconds.

MLflow's defaults (mlflow v3.17.2 ``mlflow/environment_variables.py``: 7 retries, backoff
factor 2, 120 s timeout) retry for minutes. Unless the caller set them, the CLI uses 2 retries,
backoff factor 1 (urllib3 sleeps 0 s, then 2 s, plus up to 0.5 s jitter) and a 6 s timeout per
attempt: at most 3 x 6 s + 2.5 s = 20.5 s for a registry that never answers, about 3 s for a
refused connection.
"""

from __future__ import annotations

import os

RETRY_BOUNDS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "6",
}


def bound_mlflow_retries() -> None:
    """Set the bounds for this process where the environment does not already choose."""
    for key, value in RETRY_BOUNDS.items():
        os.environ.setdefault(key, value)

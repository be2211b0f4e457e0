"""Model servers started exactly as the serving image starts them, on a model from `model/`."""

from collections.abc import Iterator
from typing import Any

import pytest

from localrun.server_process import ModelServerProcess


@pytest.fixture(scope="session")
def registry_server(trained_model: dict[str, Any]) -> Iterator[ModelServerProcess]:
    """The image's defaults, model resolved through the registry alias `challenger`."""
    server = ModelServerProcess(
        model_uri=f"models:/{trained_model['model_name']}@candidate",
        env={"MLFLOW_TRACKING_URI": trained_model["tracking_uri"]},
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def single_worker_server(trained_model: dict[str, Any]) -> Iterator[ModelServerProcess]:
    """One worker serving the downloaded model directory, with a short drift window."""
    server = ModelServerProcess(
        model_uri=trained_model["local_model_dir"],
        env={
            "SERVER_WORKERS": "1",
            "DRIFT_WINDOW_ROWS": "40",
            "DRIFT_MIN_ROWS": "10",
        },
    )
    with server:
        yield server

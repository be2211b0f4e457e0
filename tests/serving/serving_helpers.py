"""What the serving tests share: the iris feature order and a prediction call."""

from typing import Any

import requests

from localrun.server_process import ModelServerProcess

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def predict(server: ModelServerProcess, body: Any) -> requests.Response:
    """POST a JSON body to the Seldon prediction endpoint."""
    return requests.post(f"{server.url}/api/v1.0/predictions", json=body, timeout=10)

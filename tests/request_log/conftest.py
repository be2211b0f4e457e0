"""Fixtures of the request-log suites: the real model server the executor stand-in fronts."""

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from localrun.server_process import ModelServerProcess


@pytest.fixture(scope="module")
def model_server(trained_model: dict[str, Any]) -> Iterator[ModelServerProcess]:
    with ModelServerProcess(
        model_uri=trained_model["local_model_dir"], env={"SERVER_WORKERS": "2"}
    ) as server:
        yield server


@pytest.fixture(scope="module")
def features(model_server: ModelServerProcess) -> list[str]:
    metadata = requests.get(f"{model_server.url}/metadata", timeout=10).json()
    return [column["name"] for column in metadata["inputs"]]

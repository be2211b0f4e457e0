"""Predictions, metadata and health of the real seldon-core-microservice over HTTP."""

from typing import Any

import grpc
import numpy as np
import pytest
import requests
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from localrun.server_process import OPERATOR_ENV, ModelServerProcess
from tests.serving.serving_helpers import FEATURES, predict

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
CLASSES = ["setosa", "versicolor", "virginica"]


def local_probabilities(trained_model: dict[str, Any], rows: list[list[float]]) -> np.ndarray:
    """The same model's answer computed in-process, for comparison with the server."""
    import mlflow.sklearn
    import pandas as pd

    pipeline = mlflow.sklearn.load_model(trained_model["local_model_dir"])
    return pipeline.predict_proba(pd.DataFrame(rows, columns=FEATURES))


def test_ndarray_without_names_returns_class_probabilities(
    registry_server: ModelServerProcess, trained_model: dict[str, Any]
) -> None:
    response = predict(registry_server, {"data": {"ndarray": ROWS}})

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["names"] == CLASSES
    np.testing.assert_allclose(data["ndarray"], local_probabilities(trained_model, ROWS))
    assert [CLASSES[i] for i in np.argmax(data["ndarray"], axis=1)] == [
        "setosa",
        "virginica",
        "versicolor",
    ]


def test_tensor_with_names_in_another_order_is_reordered(
    registry_server: ModelServerProcess, trained_model: dict[str, Any]
) -> None:
    order = [3, 0, 2, 1]
    shuffled = [[row[i] for i in order] for row in ROWS]
    body = {
        "data": {
            "names": [FEATURES[i] for i in order],
            "tensor": {"shape": [3, 4], "values": [v for row in shuffled for v in row]},
        }
    }

    response = predict(registry_server, body)

    assert response.status_code == 200, response.text
    tensor = response.json()["data"]["tensor"]
    assert tensor["shape"] == [3, 3]
    expected = local_probabilities(trained_model, ROWS)
    np.testing.assert_allclose(np.reshape(tensor["values"], (3, 3)), expected)


def test_ndarray_with_names_and_puid_carries_model_version_tags(
    registry_server: ModelServerProcess, trained_model: dict[str, Any]
) -> None:
    body = {"meta": {"puid": "req-42"}, "data": {"names": FEATURES, "ndarray": ROWS[:1]}}

    response = predict(registry_server, body)

    assert response.status_code == 200, response.text
    meta = response.json()["meta"]
    assert meta["tags"] == {
        "deployment": OPERATOR_ENV["SELDON_DEPLOYMENT_ID"],
        "predictor": OPERATOR_ENV["PREDICTOR_ID"],
        "model_name": trained_model["model_name"],
        "model_version": trained_model["version"],
    }
    assert meta["puid"] == "req-42"
    assert "metrics" not in meta


def test_metadata_describes_inputs_outputs_name_and_version(
    registry_server: ModelServerProcess, trained_model: dict[str, Any]
) -> None:
    metadata = requests.get(f"{registry_server.url}/metadata", timeout=10).json()

    assert metadata["name"] == trained_model["model_name"]
    assert metadata["versions"] == [trained_model["version"]]
    assert metadata["inputs"] == [
        {"name": name, "datatype": "FP64", "shape": [-1]} for name in FEATURES
    ]
    assert [output["name"] for output in metadata["outputs"]] == CLASSES
    assert metadata["custom"]["run_id"] == trained_model["run_id"]


@pytest.mark.parametrize("path", ["/health/ping", "/health/status"])
def test_health_endpoints_answer(registry_server: ModelServerProcess, path: str) -> None:
    response = requests.get(f"{registry_server.url}{path}", timeout=10)

    assert response.status_code == 200
    if path == "/health/status":
        assert response.json()["jsonData"]["status"] == "ok"


def test_grpc_predicts_and_rejects_bad_input_with_the_message(
    registry_server: ModelServerProcess, trained_model: dict[str, Any]
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{registry_server.grpc_port}") as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        answer = stub.Predict(json_to_seldon_message({"data": {"ndarray": ROWS}}), timeout=10)
        with pytest.raises(grpc.RpcError) as rejected:
            stub.Predict(json_to_seldon_message({"data": {"ndarray": [[1.0, 2.0]]}}), timeout=10)

    data = seldon_message_to_json(answer)["data"]
    np.testing.assert_allclose(data["ndarray"], local_probabilities(trained_model, ROWS))
    assert "'data.ndarray[0]' has 2 values; expected 4 numbers" in rejected.value.details()

"""The shared fixtures deliver what other suites rely on."""

import mlflow
import requests


def test_mlflow_server_answers_health(mlflow_server: str) -> None:
    assert requests.get(f"{mlflow_server}/health", timeout=5).text.strip() == "OK"


def test_trained_model_loads_from_local_dir(trained_model: dict) -> None:
    loaded = mlflow.pyfunc.load_model(trained_model["local_model_dir"])
    metadata = mlflow.models.Model.load(trained_model["local_model_dir"]).metadata
    assert set(metadata["drift_reference"]["features"]) == {
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    }
    assert loaded.metadata.get_input_schema().input_names() == [
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    ]

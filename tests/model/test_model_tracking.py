"""What one ``train`` run leaves in MLflow: params, metrics, provenance, artifacts, model format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def client(trained_model: dict[str, Any]) -> MlflowClient:
    uri = trained_model["tracking_uri"]
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_run_logs_params_metrics_and_provenance(trained_model: dict, client: MlflowClient) -> None:
    run = client.get_run(trained_model["run_id"])

    assert run.data.params["estimator"] == "logistic_regression"
    assert run.data.params["estimator.random_state"] == "42"
    assert run.data.params["seed"] == "42"
    assert run.data.params["dataset.rows"] == "150"
    assert run.data.metrics == trained_model["metrics"]
    assert run.data.tags["dataset_hash"] == trained_model["dataset_hash"]
    assert run.data.tags["git_commit"].split("-")[0] != ""
    assert run.data.tags["python_version"].startswith("3.12")
    assert [d.dataset.name for d in run.inputs.dataset_inputs] == ["iris"]


def test_run_artifacts(trained_model: dict, client: MlflowClient, tmp_path: Path) -> None:
    run_id = trained_model["run_id"]
    confusion = json.loads(
        Path(
            client.download_artifacts(run_id, "evaluation/confusion_matrix.json", str(tmp_path))
        ).read_text()
    )
    assert confusion["labels"] == ["setosa", "versicolor", "virginica"]
    assert sum(map(sum, confusion["matrix"])) == 38
    environment = Path(
        client.download_artifacts(run_id, "environment/pip-freeze.txt", str(tmp_path))
    ).read_text()
    assert "scikit-learn==" in environment and "mlflow==" in environment
    drift = json.loads(
        Path(client.download_artifacts(run_id, "drift_reference.json", str(tmp_path))).read_text()
    )
    assert drift["n_rows"] == 112


def test_model_signature_example_and_drift_metadata(trained_model: dict) -> None:
    local = trained_model["local_model_dir"]
    info = mlflow.models.Model.load(local)

    inputs = info.get_input_schema().to_dict()
    assert inputs == [{"type": "double", "name": name, "required": True} for name in FEATURES]
    assert info.get_output_schema().to_dict() == [
        {"type": "string", "name": "species", "required": True}
    ]
    assert info.saved_input_example_info is not None
    assert info.flavors["sklearn"]["serialization_format"] == "skops"
    assert (info.run_id, info.artifact_path) == (trained_model["run_id"], "model")
    reference = info.metadata["drift_reference"]
    assert sorted(reference["features"]) == sorted(FEATURES)
    assert reference["n_rows"] == 112
    assert all(sum(f["counts"]) == 112 for f in reference["features"].values())
    assert "skops==" in (Path(local) / "requirements.txt").read_text()


def test_version_tags_record_the_gate(trained_model: dict, client: MlflowClient) -> None:
    tags = client.get_model_version(trained_model["model_name"], trained_model["version"]).tags

    assert tags["gate.passed"] == "true"
    assert tags["gate.champion_version"] == "none"
    assert json.loads(tags["gate.verdict"]) == trained_model["gate"]
    assert {key for key in tags if key.startswith("metric.")} == {
        f"metric.{name}" for name in trained_model["metrics"]
    }

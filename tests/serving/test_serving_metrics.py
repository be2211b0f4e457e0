"""After traffic, the metrics port shows every documented metric with Seldon's labels."""

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from localrun.server_process import OPERATOR_ENV, ModelServerProcess
from tests.serving.serving_helpers import FEATURES, predict

DOCS = Path(__file__).resolve().parents[2] / "docs" / "serving.md"
WINDOW_ROWS = 40  # DRIFT_WINDOW_ROWS of the single_worker_server fixture


def documented_metrics() -> dict[str, str]:
    """Metric name -> own label, from the table in docs/serving.md."""
    rows = re.findall(r"^\| `(mlops_\w+)` \| \w+ \| `(\w+)` \|", DOCS.read_text(), re.M)
    return dict(rows)


def drift_reference(model_dir: str) -> dict[str, Any]:
    from mlflow.models import Model

    return Model.load(model_dir).metadata["drift_reference"]["features"]


def expected_psi(window: np.ndarray, reference: dict[str, Any]) -> float:
    """PSI computed independently: clip into the training range, then np.histogram."""
    edges = np.asarray(reference["bin_edges"])
    expected = np.asarray(reference["counts"], dtype=float)
    actual, _ = np.histogram(np.clip(window, edges[0], edges[-1]), bins=edges)
    shares = [np.maximum(c / c.sum(), 1e-4) for c in (actual.astype(float), expected)]
    return float(np.sum((shares[0] - shares[1]) * np.log(shares[0] / shares[1])))


def traffic(reference: dict[str, Any]) -> np.ndarray:
    """50 rows inside the training range, then 10 with values outside it."""
    rng = np.random.default_rng(7)
    low = np.array([reference[f]["min"] for f in FEATURES])
    high = np.array([reference[f]["max"] for f in FEATURES])
    inside = rng.uniform(low, high, size=(50, 4))
    outside = inside[:10].copy()
    outside[:, 0] = high[0] + 1.0
    outside[:5, 3] = low[3] - 0.5
    return np.round(np.vstack([inside, outside]), 3)


def samples(server: ModelServerProcess) -> dict[str, list[Any]]:
    text = requests.get(server.metrics_url, timeout=10).text
    found: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def test_documented_metrics_have_the_right_values_and_labels(
    single_worker_server: ModelServerProcess, trained_model: dict[str, Any]
) -> None:
    import mlflow.sklearn

    reference = drift_reference(trained_model["local_model_dir"])
    rows = traffic(reference)
    for batch in np.array_split(rows, 6):
        response = predict(single_worker_server, {"data": {"ndarray": batch.tolist()}})
        assert response.status_code == 200, response.text
    assert predict(single_worker_server, {"data": {"ndarray": [[1.0]]}}).status_code == 400

    found = samples(single_worker_server)

    documented = documented_metrics()
    assert set(documented) == {
        "mlops_model_predictions_total",
        "mlops_model_input_out_of_range_total",
        "mlops_model_feature_drift_psi",
        "mlops_model_request_errors_total",
    }
    for name, own_label in documented.items():
        assert name in found, f"{name} missing from the metrics port"
        for sample in found[name]:
            assert sample.labels[own_label]
            assert sample.labels["deployment_name"] == OPERATOR_ENV["SELDON_DEPLOYMENT_ID"]
            assert sample.labels["predictor_name"] == OPERATOR_ENV["PREDICTOR_ID"]
            assert sample.labels["predictor_version"] == "v1"
            assert sample.labels["model_name"] == OPERATOR_ENV["PREDICTIVE_UNIT_ID"]
            assert sample.labels["model_image"] == "mlops-model-server"
            assert sample.labels["method"] == "predict"
            assert "worker_id" not in sample.labels  # workers are summed by the server

    pipeline = mlflow.sklearn.load_model(trained_model["local_model_dir"])
    winners = pipeline.predict_proba(pd.DataFrame(rows, columns=FEATURES)).argmax(axis=1)
    per_class = {s.labels["class"]: s.value for s in found["mlops_model_predictions_total"]}
    assert per_class == {
        str(name): float(np.sum(winners == i)) for i, name in enumerate(pipeline.classes_)
    }

    out_of_range = {
        s.labels["feature"]: s.value for s in found["mlops_model_input_out_of_range_total"]
    }
    assert out_of_range == {
        f: float(np.sum((rows[:, i] < reference[f]["min"]) | (rows[:, i] > reference[f]["max"])))
        for i, f in enumerate(FEATURES)
    }
    assert out_of_range["sepal_length"] == 10 and out_of_range["petal_width"] == 5

    assert [s.labels["code"] for s in found["mlops_model_request_errors_total"]] == ["400"]
    assert [s.value for s in found["mlops_model_drift_window_rows"]] == [WINDOW_ROWS]

    psi = {s.labels["feature"]: s.value for s in found["mlops_model_feature_drift_psi"]}
    window = rows[-WINDOW_ROWS:]
    for i, feature in enumerate(FEATURES):
        assert psi[feature] == pytest.approx(expected_psi(window[:, i], reference[feature]))
    assert psi["sepal_length"] > 0.25

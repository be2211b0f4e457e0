"""Every kind of scikit-learn model `model/` packages, served by the real server over HTTP."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from localrun.server_process import ModelServerProcess
from tests.serving.serving_helpers import predict, saved_model


def scaled(estimator: Any) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("model", estimator)])


def served(
    tmp: Path, estimator: Any, x: pd.DataFrame, y: pd.Series, **env: str
) -> ModelServerProcess:
    return ModelServerProcess(
        str(saved_model(estimator, x, y, tmp)), env={"SERVER_WORKERS": "1", **env}
    )


def scraped(server: ModelServerProcess) -> dict[str, float]:
    text = requests.get(server.metrics_url, timeout=10).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def wine() -> tuple[pd.DataFrame, pd.Series]:
    x, y = load_wine(return_X_y=True, as_frame=True)
    return x, y.rename("cultivar")  # integer labels 0, 1, 2


@pytest.fixture(scope="module")
def wine_server(
    tmp_path_factory: pytest.TempPathFactory, wine: tuple[pd.DataFrame, pd.Series]
) -> Iterator[tuple[ModelServerProcess, Pipeline]]:
    pipeline = scaled(LogisticRegression(max_iter=500))
    with served(tmp_path_factory.mktemp("wine"), pipeline, *wine) as server:
        yield server, pipeline


def test_wine_13_features_answer_probabilities_named_by_integer_classes_as_strings(
    wine_server: tuple[ModelServerProcess, Pipeline], wine: tuple[pd.DataFrame, pd.Series]
) -> None:
    server, pipeline = wine_server
    rows = wine[0].iloc[[0, 70, 150]]

    response = predict(server, {"data": {"ndarray": rows.to_numpy().tolist()}})

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["names"] == ["0", "1", "2"]
    np.testing.assert_allclose(data["ndarray"], pipeline.predict_proba(rows))
    metadata = requests.get(f"{server.url}/metadata", timeout=10).json()
    assert [i["name"] for i in metadata["inputs"]] == list(wine[0].columns)
    assert metadata["custom"]["kind"] == "probabilistic_classifier"


def test_wine_with_4_features_is_a_400_naming_the_13(
    wine_server: tuple[ModelServerProcess, Pipeline],
) -> None:
    server, _ = wine_server

    response = predict(server, {"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}})

    assert response.status_code == 400
    assert "'data.ndarray[0]' has 4 values; expected 13 numbers (alcohol," in response.text


def test_regressor_answers_its_predictions(tmp_path: Path) -> None:
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    pipeline = scaled(Ridge())
    rows = x.iloc[:3]
    tensor = {"shape": [3, x.shape[1]], "values": rows.to_numpy().ravel().tolist()}

    window = {"DRIFT_WINDOW_ROWS": "4", "DRIFT_MIN_ROWS": "2"}
    with served(tmp_path, pipeline, x, y.rename("progression"), **window) as server:
        ndarray = predict(server, {"data": {"ndarray": rows.to_numpy().tolist()}})
        as_tensor = predict(server, {"data": {"tensor": tensor}})
        health = requests.get(f"{server.url}/health/status", timeout=10).json()
        metrics = scraped(server)

    assert ndarray.status_code == 200, ndarray.text
    assert ndarray.json()["data"]["names"] == ["prediction"]
    expected = pipeline.predict(rows)
    np.testing.assert_allclose(np.ravel(ndarray.json()["data"]["ndarray"]), expected)
    assert as_tensor.json()["data"]["tensor"]["shape"] == [3, 1]
    np.testing.assert_allclose(as_tensor.json()["data"]["tensor"]["values"], expected)
    assert health["jsonData"]["kind"] == "regressor"
    # Six rows answered; the window holds the last four: p2, then p0, p1, p2 again.
    assert metrics["mlops_model_predictions_total"] == 6
    assert metrics["mlops_model_drift_window_rows"] == 4
    window_mean = (expected[0] + expected[1] + 2 * expected[2]) / 4
    assert metrics["mlops_model_prediction_mean"] == pytest.approx(window_mean)


def test_classifier_without_predict_proba_answers_class_names(tmp_path: Path) -> None:
    x, y = load_iris(return_X_y=True, as_frame=True)
    labels = y.map(dict(enumerate(["setosa", "versicolor", "virginica"]))).rename("species")
    pipeline = scaled(LinearSVC())
    rows = x.iloc[[0, 60, 120]]
    tensor = {"shape": [3, 4], "values": rows.to_numpy().ravel().tolist()}

    with served(tmp_path, pipeline, x, labels) as server:
        ndarray = predict(server, {"data": {"ndarray": rows.to_numpy().tolist()}})
        from_tensor = predict(server, {"data": {"tensor": tensor}})

    assert ndarray.status_code == 200, ndarray.text
    expected = [[label] for label in pipeline.predict(rows)]
    assert ndarray.json()["data"] == {"names": ["label"], "ndarray": expected}
    assert from_tensor.json()["data"] == {"names": ["label"], "ndarray": expected}

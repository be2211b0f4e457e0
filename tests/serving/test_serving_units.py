"""In-process tests of the request parser, drift window and model-kind runtimes."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC

from model.digest import model_digest
from serving import model_kinds
from serving.drift import BinWindow, psi
from serving.http_errors import InvalidRequest, PayloadTooLarge, ServingError
from serving.model_digest import directory_digest
from serving.model_format import ModelFormatRefused, skops_file
from serving.model_source import FeatureReference, resolve_model
from serving.request_payload import RequestParser
from tests.serving.serving_helpers import saved_model

NAMES = ("a", "b")


def reference(edges: list[float], counts: list[float]) -> FeatureReference:
    return FeatureReference(np.array(edges), np.array(counts), edges[0], edges[-1])


def test_parser_reorders_named_columns_and_refuses_a_short_row() -> None:
    parser = RequestParser(NAMES, max_rows=2)

    parsed = parser.parse({"data": {"names": ["b", "a"], "ndarray": [[2, 1.5]]}})

    np.testing.assert_array_equal(parsed.features, [[1.5, 2.0]])
    with pytest.raises(InvalidRequest, match=r"'data.ndarray\[0\]' has 1 values; expected 2"):
        parser.parse({"data": {"ndarray": [[1.0]]}})
    with pytest.raises(InvalidRequest, match="batch of 3 rows exceeds the limit of 2"):
        parser.parse({"data": {"ndarray": [[1, 2]] * 3}})


def test_errors_carry_their_http_status() -> None:
    assert (InvalidRequest("x").status_code, PayloadTooLarge("x").status_code) == (400, 413)
    assert ServingError("x").status_code == 500
    assert InvalidRequest("bad").to_dict()["status"]["info"] == "bad"


def test_drift_window_keeps_the_last_rows_and_reports_what_it_dropped() -> None:
    window = BinWindow([reference([0.0, 1.0, 2.0], [50, 50])], window_rows=4)
    added, dropped, _ = window.add(np.array([[0.5], [0.5], [0.5], [1.5]]))
    assert (added[:, 0].tolist(), len(dropped)) == ([0, 0, 0, 1], 0)
    added, dropped, _ = window.add(np.array([[1.5], [-3.0]]))  # pushes out the first two rows
    assert (added[:, 0].tolist(), dropped[:, 0].tolist()) == ([1, 0], [0, 0])
    assert window.size == 4


def test_a_batch_longer_than_the_window_keeps_its_last_rows() -> None:
    window = BinWindow([reference([0.0, 1.0, 2.0], [50, 50])], window_rows=2)
    window.add(np.array([[0.5]]))
    added, dropped, _ = window.add(np.array([[0.5], [1.5], [1.5]]))
    assert (added[:, 0].tolist(), dropped[:, 0].tolist(), window.size) == ([1, 1], [0], 2)


def test_psi_matches_the_formula() -> None:
    expected = (0.75 - 0.5) * np.log(0.75 / 0.5) + (0.25 - 0.5) * np.log(0.25 / 0.5)
    assert psi(np.array([3, 1]), np.array([50, 50])) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("estimator", "dataset", "kind", "names"),
    [
        (LogisticRegression(max_iter=300), "iris-int", "probabilistic_classifier", ["0", "1", "2"]),
        (LinearSVC(), "iris-str", "label_classifier", ["label"]),
        (LinearRegression(), "diabetes", "regressor", ["prediction"]),
    ],
)
def test_each_kind_loads_with_its_runtime(
    tmp_path: Path, estimator: object, dataset: str, kind: str, names: list[str]
) -> None:
    loader = load_diabetes if dataset == "diabetes" else load_iris
    x, y = loader(return_X_y=True, as_frame=True)
    if dataset == "iris-str":
        y = y.map({0: "setosa", 1: "versicolor", 2: "virginica"})
    model_dir = saved_model(estimator, x, pd.Series(y, name="target"), tmp_path)

    runtime = model_kinds.load(resolve_model(str(model_dir), model_digest(model_dir)))
    prediction = runtime.predict(x.iloc[:3].to_numpy())

    assert runtime.kind == kind
    assert prediction.names == names
    assert [o["name"] for o in runtime.metadata()["outputs"]] == names
    if kind == "label_classifier":
        assert prediction.values.ravel().tolist() == list(estimator.predict(x.iloc[:3]))
    else:
        assert prediction.values.shape == (3, len(names))


def test_serving_digest_equals_model_digest_and_skips_registered_model_meta(
    tmp_path: Path,
) -> None:
    x, y = load_iris(return_X_y=True, as_frame=True)
    model_dir = saved_model(LogisticRegression(max_iter=300), x, y.rename("species"), tmp_path)
    before = directory_digest(model_dir)
    (model_dir / "registered_model_meta").write_text("model_name: iris\nmodel_version: '1'\n")

    assert directory_digest(model_dir) == before == model_digest(model_dir)


@pytest.mark.parametrize(
    ("flavors", "fragment"),
    [
        ({"python_function": {"loader_module": "mlflow.pyfunc.model"}}, "not sklearn in skops"),
        ({"sklearn": {"pickled_model": "model.pkl"}}, "stored as 'pickle'"),
        ({"sklearn": {"pickled_model": "../x", "serialization_format": "skops"}}, "not a file"),
    ],
)
def test_formats_other_than_skops_are_refused_from_the_mlmodel(
    tmp_path: Path, flavors: dict, fragment: str
) -> None:
    with pytest.raises(ModelFormatRefused, match=fragment):
        skops_file(tmp_path, flavors, "model m version 1")

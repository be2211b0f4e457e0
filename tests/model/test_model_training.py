"""Training is seeded and reproducible; configuration errors say what is valid; drift bins fit."""

from __future__ import annotations

import pytest

from model.data import dataset_hash, load_spec_dataset
from model.drift_reference import build_drift_reference
from model.errors import ConfigurationError
from model.evaluation import evaluate
from model.specs import load_spec
from model.training import TrainingConfig, fit, split

CLASSES = ["setosa", "versicolor", "virginica"]

IRIS = load_spec("iris")


def train_once(config: TrainingConfig) -> dict[str, float]:
    dataset = load_spec_dataset(IRIS)
    parts = split(dataset.features, dataset.target, config)
    return evaluate(
        fit(config, parts.x_train, parts.y_train), parts.x_test, parts.y_test, CLASSES
    ).metrics


@pytest.mark.parametrize(
    "estimator", ["logistic_regression", "random_forest", "gradient_boosting", "k_neighbors"]
)
def test_same_data_and_seed_give_same_metrics(estimator: str) -> None:
    config = TrainingConfig.parse(estimator=estimator, seed=7)
    assert train_once(config) == train_once(config)


def test_metrics_cover_every_class() -> None:
    metrics = train_once(TrainingConfig.parse())
    assert set(metrics) == {
        "accuracy",
        "f1_macro",
        *(f"{kind}_{label}" for kind in ("precision", "recall") for label in CLASSES),
    }
    assert 0.8 < metrics["accuracy"] <= 1.0


def test_seed_changes_the_held_out_split() -> None:
    dataset = load_spec_dataset(IRIS)
    first = split(dataset.features, dataset.target, TrainingConfig.parse(seed=1))
    second = split(dataset.features, dataset.target, TrainingConfig.parse(seed=2))
    assert list(first.x_test.index) != list(second.x_test.index)


def test_dataset_hash_is_stable_and_content_sensitive() -> None:
    frame = load_spec_dataset(IRIS).frame
    assert dataset_hash(frame) == dataset_hash(load_spec_dataset(IRIS).frame)
    changed = frame.copy()
    changed.loc[0, "sepal_length"] += 0.1
    assert dataset_hash(changed) != dataset_hash(frame)


def test_hyper_parameters_reach_the_estimator() -> None:
    config = TrainingConfig.parse(estimator="random_forest", params={"n_estimators": 7}, seed=3)
    dataset = load_spec_dataset(IRIS)
    pipeline = fit(config, dataset.features, dataset.target)
    estimator = pipeline.named_steps["estimator"]
    assert (estimator.n_estimators, estimator.random_state) == (7, 3)
    assert list(pipeline.classes_) == CLASSES


def test_unknown_hyper_parameter_lists_valid_ones() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"unknown hyper-parameter\(s\) \['depth'\] for random_forest; valid: \[.*'max_depth'",
    ):
        TrainingConfig.parse(estimator="random_forest", params={"depth": 3})


def test_bad_hyper_parameter_value_is_reported() -> None:
    config = TrainingConfig.parse(params={"C": -1})
    dataset = load_spec_dataset(IRIS)
    with pytest.raises(
        ConfigurationError, match=r"logistic_regression rejected hyper-parameters \{'C': -1\}"
    ):
        fit(config, dataset.features, dataset.target)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"estimator": "xgboost"},
            "estimator: Value error, unknown estimator 'xgboost'; choose one of [",
        ),
        ({"test_size": 1.5}, "test_size: Input should be less than 1"),
    ],
)
def test_invalid_config_names_the_field(values: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid training configuration") as raised:
        TrainingConfig.parse(**values)
    assert message in str(raised.value)


def test_drift_reference_has_contract_shape() -> None:
    features = load_spec_dataset(IRIS).features
    reference = build_drift_reference(features)

    assert reference["n_rows"] == 150
    assert list(reference["features"]) == list(features.columns)
    for name, stats in reference["features"].items():
        edges, counts = stats["bin_edges"], stats["counts"]
        assert len(edges) == len(counts) + 1
        assert edges == sorted(edges)
        assert (edges[0], edges[-1]) == (stats["min"], stats["max"])
        assert (stats["min"], stats["max"]) == (features[name].min(), features[name].max())
        assert sum(counts) == 150


def test_drift_reference_of_a_constant_feature() -> None:
    features = load_spec_dataset(IRIS).features.assign(sepal_length=5.0)
    stats = build_drift_reference(features)["features"]["sepal_length"]
    assert stats == {"bin_edges": [5.0, 5.0], "counts": [150], "min": 5.0, "max": 5.0}

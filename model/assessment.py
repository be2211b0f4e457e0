"""Quality gate runs against the registry: challenger and champion on the same held-out rows."""

from __future__ import annotations

import pandas as pd
from sklearn.pipeline import Pipeline

from model.errors import LifecycleError
from model.evaluation import evaluate
from model.gate import GateThresholds, GateVerdict, decide
from model.registry import (
    CHAMPION,
    alias_version,
    gate_tags,
    load_holdout,
    load_version,
    set_version_tags,
)
from model.store import Store


def assess(store: Store, model_name: str, version: str, thresholds: GateThresholds) -> GateVerdict:
    """Gate ``version`` against the current champion; record the verdict on the version's tags."""
    holdout = load_holdout(store, model_name, version)
    challenger = load_version(store, model_name, version)
    label = _label_column(holdout, challenger)
    classes = [str(name) for name in challenger.classes_]
    champion_version = alias_version(store, model_name, CHAMPION)
    champion_metrics = None
    if champion_version is not None:
        champion = (
            challenger
            if champion_version == version
            else load_version(store, model_name, champion_version)
        )
        champion_metrics = _metrics(champion, champion_version, holdout, label, classes)
    verdict = decide(
        thresholds,
        version,
        _metrics(challenger, version, holdout, label, classes),
        champion_version,
        champion_metrics,
    )
    set_version_tags(store, model_name, version, gate_tags(verdict.as_dict()))
    return verdict


def _label_column(holdout: pd.DataFrame, challenger: Pipeline) -> str:
    """The held-out column that is not one of the challenger's features."""
    features = list(challenger.feature_names_in_)
    labels = [column for column in holdout.columns if column not in features]
    if len(labels) != 1:
        raise LifecycleError(
            f"held-out data has columns {list(holdout.columns)}; expected the features {features} "
            "and exactly one label column"
        )
    return labels[0]


def _metrics(
    model: Pipeline, version: str, holdout: pd.DataFrame, label: str, classes: list[str]
) -> dict[str, float]:
    features = list(model.feature_names_in_)
    missing = sorted(set(features) - set(holdout.columns))
    if missing:
        raise LifecycleError(
            f"version {version} needs features {missing} that the held-out data does not have; "
            "the gate can only compare models trained on the same features"
        )
    return evaluate(model, holdout[features], holdout[label], classes).metrics

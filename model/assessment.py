"""Quality gate runs against the registry: challenger and champion on the same held-out rows."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.base import is_classifier

from model.conventions import CHAMPION
from model.errors import LifecycleError
from model.evaluation import evaluate
from model.gate import GateThresholds, GateVerdict, decide, schema_mismatch
from model.registry import (
    alias_version,
    gate_tags,
    load_holdout,
    load_version,
    set_version_tags,
)
from model.store import Store


def assess(store: Store, model_name: str, version: str, thresholds: GateThresholds) -> GateVerdict:
    """Gate ``version`` against the current champion; record the verdict on the version's tags.

    A champion that takes other input features fails the gate (schema check) without metrics.
    """
    holdout = load_holdout(store, model_name, version)
    challenger = load_version(store, model_name, version)
    label = _label_column(holdout, challenger)
    classes = [str(name) for name in challenger.classes_] if is_classifier(challenger) else None
    challenger_metrics = _metrics(challenger, version, holdout, label, classes)
    champion_version = alias_version(store, model_name, CHAMPION)
    if champion_version is None:
        verdict = decide(thresholds, version, challenger_metrics, None, None)
    else:
        champion = (
            challenger
            if champion_version == version
            else load_version(store, model_name, champion_version)
        )
        features = list(challenger.feature_names_in_)
        champion_features = list(champion.feature_names_in_)
        if features != champion_features or is_classifier(champion) != (classes is not None):
            verdict = schema_mismatch(
                thresholds, version, features, champion_version, champion_features
            )
        else:
            verdict = decide(
                thresholds,
                version,
                challenger_metrics,
                champion_version,
                _metrics(champion, champion_version, holdout, label, classes),
            )
    set_version_tags(store, model_name, version, gate_tags(verdict.as_dict()))
    return verdict


def _label_column(holdout: pd.DataFrame, challenger: Any) -> str:
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
    model: Any, version: str, holdout: pd.DataFrame, label: str, classes: list[str] | None
) -> dict[str, float]:
    features = list(model.feature_names_in_)
    missing = sorted(set(features) - set(holdout.columns))
    if missing:
        raise LifecycleError(
            f"version {version} needs features {missing} that the held-out data does not have; "
            "the gate can only compare models trained on the same features"
        )
    return evaluate(model, holdout[features], holdout[label], classes).metrics

"""Quality gate runs against the registry: challenger and champion on the same held-out rows."""

from __future__ import annotations

import pandas as pd
from sklearn.pipeline import Pipeline

from model.errors import LifecycleError
from model.evaluation import Evaluation, evaluate
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
    champion_version = alias_version(store, model_name, CHAMPION)
    champion_metrics = None
    if champion_version is not None and champion_version != version:
        champion = load_version(store, model_name, champion_version)
        champion_metrics = evaluate_on(champion, holdout, challenger, champion_version).metrics
    verdict = decide(
        thresholds,
        version,
        evaluate_on(challenger, holdout, challenger, version).metrics,
        champion_version if champion_metrics is not None else None,
        champion_metrics,
    )
    set_version_tags(store, model_name, version, gate_tags(verdict.as_dict()))
    return verdict


def evaluate_on(
    model: Pipeline, holdout: pd.DataFrame, reference: Pipeline, version: str
) -> Evaluation:
    """Evaluate ``model`` on held-out rows laid out for ``reference`` (the challenger)."""
    features = list(reference.feature_names_in_)
    labels = [column for column in holdout.columns if column not in features]
    if len(labels) != 1:
        raise LifecycleError(
            f"held-out data has columns {list(holdout.columns)}; expected the features {features} "
            "and exactly one label column"
        )
    missing = sorted(set(model.feature_names_in_) - set(holdout.columns))
    if missing:
        raise LifecycleError(
            f"version {version} needs features {missing} that the held-out data does not have; "
            "the gate can only compare models trained on the same features"
        )
    classes = [str(label) for label in reference.classes_]
    return evaluate(model, holdout[list(model.feature_names_in_)], holdout[labels[0]], classes)

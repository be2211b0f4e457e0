"""The scikit-learn estimators a spec or ``--estimator`` may name, by model kind.

Listed by import path so the CLI can offer the names without importing scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Literal

ModelKind = Literal["classifier", "regressor"]
"""The one vocabulary of model kinds: a spec's target, the estimators, the run's `model_kind`
param and the MLmodel metadata's `model_kind.type` (`model/packaging.py`); the model server
splits `classifier` by `predict_proba` (`serving/model_kinds.py`)."""

ESTIMATORS: dict[str, tuple[ModelKind, str]] = {
    "logistic_regression": ("classifier", "sklearn.linear_model:LogisticRegression"),
    "random_forest": ("classifier", "sklearn.ensemble:RandomForestClassifier"),
    "gradient_boosting": ("classifier", "sklearn.ensemble:GradientBoostingClassifier"),
    "k_neighbors": ("classifier", "sklearn.neighbors:KNeighborsClassifier"),
    # A classifier without predict_proba: serving answers its labels only.
    "linear_svc": ("classifier", "sklearn.svm:LinearSVC"),
    "ridge": ("regressor", "sklearn.linear_model:Ridge"),
    "random_forest_regressor": ("regressor", "sklearn.ensemble:RandomForestRegressor"),
    "gradient_boosting_regressor": ("regressor", "sklearn.ensemble:GradientBoostingRegressor"),
    "k_neighbors_regressor": ("regressor", "sklearn.neighbors:KNeighborsRegressor"),
}


def estimator_kind(name: str) -> ModelKind:
    return ESTIMATORS[name][0]


def estimator_names(kind: ModelKind) -> list[str]:
    return sorted(name for name, (fits, _) in ESTIMATORS.items() if fits == kind)


def estimator_class(name: str) -> type:
    """The scikit-learn class behind ``name`` (imported on first use)."""
    module, _, attribute = ESTIMATORS[name][1].partition(":")
    return getattr(importlib.import_module(module), attribute)

"""The scikit-learn estimators a spec or ``--estimator`` may name, by task.

Listed by import path so the CLI can offer the names without importing scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Literal

Task = Literal["classification", "regression"]

ESTIMATORS: dict[str, tuple[Task, str]] = {
    "logistic_regression": ("classification", "sklearn.linear_model:LogisticRegression"),
    "random_forest": ("classification", "sklearn.ensemble:RandomForestClassifier"),
    "gradient_boosting": ("classification", "sklearn.ensemble:GradientBoostingClassifier"),
    "k_neighbors": ("classification", "sklearn.neighbors:KNeighborsClassifier"),
    # A classifier without predict_proba: serving answers its labels only.
    "linear_svc": ("classification", "sklearn.svm:LinearSVC"),
    "ridge": ("regression", "sklearn.linear_model:Ridge"),
    "random_forest_regressor": ("regression", "sklearn.ensemble:RandomForestRegressor"),
    "gradient_boosting_regressor": ("regression", "sklearn.ensemble:GradientBoostingRegressor"),
    "k_neighbors_regressor": ("regression", "sklearn.neighbors:KNeighborsRegressor"),
}


def estimator_task(name: str) -> Task:
    return ESTIMATORS[name][0]


def estimator_names(task: Task) -> list[str]:
    return sorted(name for name, (kind, _) in ESTIMATORS.items() if kind == task)


def estimator_class(name: str) -> type:
    """The scikit-learn class behind ``name`` (imported on first use)."""
    module, _, attribute = ESTIMATORS[name][1].partition(":")
    return getattr(importlib.import_module(module), attribute)

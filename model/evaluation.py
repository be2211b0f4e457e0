"""Evaluation of a fitted model on held-out rows: classifier or regressor metrics.

Classifiers: accuracy, macro F1, per-class precision/recall and the confusion matrix.
Regressors: rmse, mae (lower is better) and r2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
)


class Predictor(Protocol):
    def predict(self, features: pd.DataFrame) -> Any: ...


@dataclass(frozen=True)
class Evaluation:
    """Metrics keyed by MLflow metric name; for classifiers the confusion matrix too."""

    metrics: dict[str, float]
    labels: list[str] | None = None
    confusion: list[list[int]] | None = None

    def confusion_artifact(self) -> dict[str, Any] | None:
        """The confusion matrix as logged: rows are true labels, columns predicted labels."""
        if self.labels is None:
            return None
        return {
            "labels": self.labels,
            "rows": "true",
            "columns": "predicted",
            "matrix": self.confusion,
        }

    def headline(self) -> str:
        """The two metrics a person looks at first."""
        names = ["accuracy", "f1_macro"] if self.labels is not None else ["rmse", "r2"]
        return ", ".join(f"{name} {self.metrics[name]:.4f}" for name in names)


def evaluate(
    model: Predictor, features: pd.DataFrame, truth: pd.Series, labels: list[str] | None
) -> Evaluation:
    """Classifier metrics over ``labels`` (class names), or regressor metrics when None."""
    if labels is None:
        return _regression(model.predict(features), truth)
    predicted = [str(label) for label in model.predict(features)]
    truth_labels = [str(label) for label in truth]
    precision, recall, _, _ = precision_recall_fscore_support(
        truth_labels, predicted, labels=labels, zero_division=0
    )
    metrics = {
        "accuracy": float(accuracy_score(truth_labels, predicted)),
        "f1_macro": float(
            f1_score(truth_labels, predicted, labels=labels, average="macro", zero_division=0)
        ),
    }
    for label, p, r in zip(labels, precision, recall, strict=True):
        metrics[f"precision_{label}"] = float(p)
        metrics[f"recall_{label}"] = float(r)
    matrix = confusion_matrix(truth_labels, predicted, labels=labels)
    return Evaluation(metrics=metrics, labels=labels, confusion=matrix.tolist())


def _regression(predicted: Any, truth: pd.Series) -> Evaluation:
    values = truth.to_numpy(dtype=float)
    return Evaluation(
        metrics={
            "rmse": float(np.sqrt(mean_squared_error(values, predicted))),
            "mae": float(mean_absolute_error(values, predicted)),
            "r2": float(r2_score(values, predicted)),
        }
    )

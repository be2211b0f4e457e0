"""Evaluation of a fitted classifier on held-out rows: summary metrics and the confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)


class Classifier(Protocol):
    def predict(self, features: pd.DataFrame) -> Any: ...


@dataclass(frozen=True)
class Evaluation:
    """Metrics keyed by MLflow metric name, and the confusion matrix with its label order."""

    metrics: dict[str, float]
    labels: list[str]
    confusion: list[list[int]]

    def confusion_artifact(self) -> dict[str, Any]:
        """The confusion matrix as logged: rows are true labels, columns predicted labels."""
        return {
            "labels": self.labels,
            "rows": "true",
            "columns": "predicted",
            "matrix": self.confusion,
        }


def evaluate(
    model: Classifier, features: pd.DataFrame, truth: pd.Series, labels: list[str]
) -> Evaluation:
    """Accuracy, macro F1 and per-class precision/recall of ``model`` on ``features``."""
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

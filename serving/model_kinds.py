"""One runtime per kind of scikit-learn model: what it answers, how, and what it reports.

The seam MLServer gives its runtimes: `load(artifact)` rebuilds the estimator and picks the
runtime for its kind; each runtime has `predict(features)` and `metadata()`. The Seldon glue in
`model_server.py` only parses requests, calls the runtime and wraps its answer.

| kind | answers | `data.names` |
|---|---|---|
| `probabilistic_classifier` | one probability column per class | the class names, as strings |
| `label_classifier` (no `predict_proba`) | the predicted class name, as a string | `["label"]` |
| `regressor` | the predicted value | `["prediction"]` |
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import sklearn
from sklearn.base import is_classifier, is_regressor

from serving.model_source import ModelArtifact, ModelSourceError

LABEL_COLUMN = "label"
PREDICTION_COLUMN = "prediction"


@dataclass(frozen=True)
class Prediction:
    """A runtime's answer for a batch.

    `values` has one row per input row and one column per name (numbers, or class-name strings
    for a label classifier); `winners` is each row's class index for classifiers, and for a
    regressor the predicted value, which is what the metrics count.
    """

    names: list[str]
    values: np.ndarray
    winners: np.ndarray

    @property
    def numeric(self) -> bool:
        """Whether the values fit a Seldon tensor (labels travel as an ndarray)."""
        return self.values.dtype.kind == "f"


class ModelRuntime(ABC):
    """A loaded estimator of one kind."""

    kind: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    @property
    def class_names(self) -> list[str] | None:
        """Class names as strings for classifiers, None for a regressor."""
        return [str(name) for name in self.estimator.classes_]

    @abstractmethod
    def predict(self, features: np.ndarray) -> Prediction:
        """Answer a batch of validated rows in the signature's column order."""

    @abstractmethod
    def outputs(self) -> list[dict[str, Any]]:
        """Seldon metadata tensors of the answer's columns."""

    def metadata(self) -> dict[str, Any]:
        """What /metadata says about this kind's answer."""
        return {"kind": self.kind, "outputs": self.outputs(), "description": self.description}

    def _call(self, method: str, features: np.ndarray) -> np.ndarray:
        # Inputs are already checked finite; skip scikit-learn's repeated validation.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return np.asarray(getattr(self.estimator, method)(features))


class ProbabilisticClassifier(ModelRuntime):
    """Classifiers with predict_proba: one probability column per class."""

    kind = "probabilistic_classifier"
    description = "class probabilities, one column per class in this order"

    def predict(self, features: np.ndarray) -> Prediction:
        probabilities = self._call("predict_proba", features).astype(np.float64)
        return Prediction(self.class_names, probabilities, probabilities.argmax(axis=1))

    def outputs(self) -> list[dict[str, Any]]:
        return [{"name": name, "datatype": "FP64", "shape": [-1]} for name in self.class_names]


class LabelClassifier(ModelRuntime):
    """Classifiers without predict_proba: the predicted class name."""

    kind = "label_classifier"
    description = "the predicted class name (a string), one column 'label'"

    def predict(self, features: np.ndarray) -> Prediction:
        labels = self._call("predict", features)
        winners = np.searchsorted(self.estimator.classes_, labels)
        names = np.array(self.class_names, dtype=object)
        return Prediction([LABEL_COLUMN], names[winners].reshape(-1, 1), winners)

    def outputs(self) -> list[dict[str, Any]]:
        return [{"name": LABEL_COLUMN, "datatype": "BYTES", "shape": [-1]}]


class Regressor(ModelRuntime):
    """Regressors: one predicted value per row."""

    kind = "regressor"
    description = "the predicted value, one column 'prediction'"

    @property
    def class_names(self) -> None:
        return None

    def predict(self, features: np.ndarray) -> Prediction:
        values = self._call("predict", features).astype(np.float64)
        if values.ndim != 1:
            raise ModelSourceError(
                f"the regressor answered shape {values.shape}; this server serves one target"
            )
        return Prediction([PREDICTION_COLUMN], values.reshape(-1, 1), values)

    def outputs(self) -> list[dict[str, Any]]:
        return [{"name": PREDICTION_COLUMN, "datatype": "FP64", "shape": [-1]}]


def load(artifact: ModelArtifact) -> ModelRuntime:
    """Rebuild the artifact's estimator (skops, trusted types) and wrap it in its kind."""
    estimator = artifact.load_estimator()
    if is_classifier(estimator):
        if hasattr(estimator, "predict_proba"):
            return ProbabilisticClassifier(estimator)
        return LabelClassifier(estimator)
    if is_regressor(estimator):
        return Regressor(estimator)
    raise ModelSourceError(
        f"{artifact.label}: {type(estimator).__name__} is neither a classifier nor a regressor; "
        "this server serves scikit-learn classifiers and regressors"
    )

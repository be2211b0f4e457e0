"""The shadow screens the candidate against the champion on the very requests it is mirrored.

Istio mirrors a copy of each request to the shadow and drops its answer, so no caller ever sees
the candidate's output; to know how often it would have answered differently, the shadow also
loads the champion's model (COMPARE_MODEL_URI, verified against COMPARE_MODEL_DIGEST like
MODEL_URI) and runs it on the same rows. Comparing in one process needs no join across pods:
the executor's `Seldon-Puid` would have to survive mirroring and both servers would have to keep
their answers until the analysis read them. It costs the champion model's memory and one extra
predict per mirrored batch, on the shadow only. Both models are deterministic functions of the
rows, so the champion's answer here is the answer the champion predictor gave.

Rows disagree when the predicted class differs (by class name, so both models' class orders
may differ), or for a regressor when the values differ by more than `REGRESSION_TOLERANCE` of
the champion's.
"""

import numpy as np

from serving import model_kinds
from serving.model_kinds import ModelRuntime, Prediction
from serving.model_source import ModelArtifact, resolve_model

REGRESSION_TOLERANCE = 0.1


class ComparisonError(ValueError):
    """The reference model cannot be compared with the served one."""


class ReferenceModel:
    """The champion's model, loaded beside the candidate in the shadow."""

    def __init__(self, uri: str, digest: str | None, feature_names: list[str]) -> None:
        self.artifact: ModelArtifact = resolve_model(uri, digest)
        if list(self.artifact.feature_names) != list(feature_names):
            raise ComparisonError(
                f"COMPARE_MODEL_URI={uri} takes inputs {list(self.artifact.feature_names)}, the "
                f"served model {list(feature_names)}: a shadow compares models of one schema"
            )
        self.runtime: ModelRuntime = model_kinds.load(self.artifact)

    @property
    def version(self) -> str:
        return self.artifact.version

    def disagreements(self, features: np.ndarray, served: ModelRuntime, answer: Prediction) -> int:
        """Rows of `features` on which `answer` (the served model's) differs from this model's."""
        reference = self.runtime.predict(features)
        mine, theirs = _labels(served, answer), _labels(self.runtime, reference)
        if mine.dtype.kind == "f" and theirs.dtype.kind == "f":
            close = np.abs(mine - theirs) <= REGRESSION_TOLERANCE * np.abs(theirs)
            return int(np.count_nonzero(~close))
        return int(np.count_nonzero(mine.astype(str) != theirs.astype(str)))


def _labels(runtime: ModelRuntime, prediction: Prediction) -> np.ndarray:
    """Each row's class name (classifiers) or value (regressors)."""
    if runtime.class_names is None:
        return np.asarray(prediction.winners, dtype=float)
    return np.asarray(runtime.class_names, dtype=object)[prediction.winners]

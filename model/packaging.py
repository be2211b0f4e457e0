"""The model directory serving loads: MLflow's sklearn flavour with everything serving relies on.

Signature (named ``double`` feature columns in; out: the label as trained for a classifier,
``string`` or ``long``, or ``double`` for a regressor), an input example, pinned requirements,
skops serialization (byte-stable: ``model.stable_artifact``), and in the MLmodel ``metadata``
the drift reference and what kind of model it is (shapes in docs/contracts.md).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import sklearn
import skops.io
from mlflow.models import Model, infer_signature
from sklearn.base import is_classifier, is_regressor

from model.drift_reference import DEFAULT_BINS, build_drift_reference
from model.stable_artifact import CREATED, canonicalize_skops, model_uuid

_INPUT_EXAMPLE_ROWS = 5
_SKOPS_FILE = "model.skops"
"""mlflow 3.17.2 ``mlflow/sklearn/__init__.py``: ``_SKOPS_MODEL_DATA_SUBPATH``."""


def save_model(
    pipeline: Any,
    x_train: pd.DataFrame,
    label: str,
    run_id: str | None,
    destination: Path,
    drift_bins: int = DEFAULT_BINS,
) -> dict[str, Any]:
    """Write the MLflow model of a fitted estimator to ``destination``; return its drift reference.

    ``pipeline`` is any fitted scikit-learn classifier (string or integer labels, with or without
    ``predict_proba``) or regressor; ``label`` names the output column. With ``run_id`` the MLmodel
    file names that run and its artifact path, as a model logged in that run does.
    """
    features = x_train.astype("float64")
    artifact_path = destination.name if run_id else None
    drift_reference = build_drift_reference(x_train, drift_bins)
    mlflow.sklearn.save_model(
        pipeline,
        str(destination),
        mlflow_model=Model(
            run_id=run_id,
            artifact_path=artifact_path,
            utc_time_created=CREATED,
            model_uuid=model_uuid(run_id, artifact_path),
        ),
        signature=infer_signature(features, _output_example(pipeline, features, label)),
        input_example=features.head(_INPUT_EXAMPLE_ROWS),
        metadata={"drift_reference": drift_reference, "model_kind": model_kind(pipeline)},
        pip_requirements=_pip_requirements(),
        serialization_format="skops",
        skops_trusted_types=_skops_trusted_types(pipeline),
    )
    canonicalize_skops(destination / _SKOPS_FILE)
    return drift_reference


def model_kind(estimator: Any) -> dict[str, Any]:
    """``{"type": "classifier", "predict_proba": bool, "classes": [...]}`` or a regressor's; the
    type is a ``ModelKind`` (``model/estimators.py``), the vocabulary of specs and runs too.

    Class names are strings whatever the label type, in ``classes_`` order (the order of
    ``predict_proba``'s columns).
    """
    if is_classifier(estimator):
        return {
            "type": "classifier",
            "predict_proba": hasattr(estimator, "predict_proba"),
            "classes": [str(name) for name in estimator.classes_],
        }
    if is_regressor(estimator):
        return {"type": "regressor"}
    raise TypeError(f"{type(estimator).__name__} is neither a classifier nor a regressor")


def _output_example(estimator: Any, features: pd.DataFrame, label: str) -> pd.Series:
    predicted = pd.Series(estimator.predict(features), name=label)
    if is_regressor(estimator):
        return predicted.astype("float64")
    if predicted.dtype.kind in "iu":
        return predicted.astype("int64")
    return predicted.astype(str)


def _skops_trusted_types(pipeline: Any) -> list[str]:
    """Types this pipeline needs that skops does not load by default (e.g. tree node storage).

    We fitted the pipeline ourselves, so its own types are trusted; loaders trust nothing else.
    """
    return skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))


def _pip_requirements() -> list[str]:
    """Pinned requirements to load the model, given so MLflow need not infer them (slow)."""
    return [
        f"mlflow=={mlflow.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
        f"skops=={metadata.version('skops')}",
    ]

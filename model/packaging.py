"""The model directory serving loads: MLflow's sklearn flavour with everything serving relies on.

Signature (named ``double`` feature columns in, the string label out), an input example, pinned
requirements, skops serialization, and the drift reference in the MLmodel ``metadata``
(shape in docs/contracts.md).
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
from sklearn.pipeline import Pipeline

from model.drift_reference import build_drift_reference

_INPUT_EXAMPLE_ROWS = 5


def save_model(
    pipeline: Pipeline, x_train: pd.DataFrame, label: str, run_id: str, destination: Path
) -> dict[str, Any]:
    """Write the MLflow model of ``pipeline`` to ``destination``; return its drift reference.

    The MLmodel file names ``run_id`` and its artifact path, as a model logged in that run does.
    """
    features = x_train.astype("float64")
    drift_reference = build_drift_reference(x_train)
    mlflow.sklearn.save_model(
        pipeline,
        str(destination),
        mlflow_model=Model(run_id=run_id, artifact_path=destination.name),
        signature=infer_signature(
            features, pd.Series(pipeline.predict(x_train), name=label).astype(str)
        ),
        input_example=features.head(_INPUT_EXAMPLE_ROWS),
        metadata={"drift_reference": drift_reference},
        pip_requirements=_pip_requirements(),
        serialization_format="skops",
        skops_trusted_types=_skops_trusted_types(pipeline),
    )
    return drift_reference


def _skops_trusted_types(pipeline: Pipeline) -> list[str]:
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

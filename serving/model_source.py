"""Where the served model comes from: a local MLflow model directory or a registry URI.

Everything here runs once at start-up. Registry URIs are resolved to one concrete version and
downloaded once, so every worker serves the same version even if an alias moves meanwhile.
"""

import os
import re
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w.-]+))$")
MLFLOW_TO_TENSOR_TYPE = {"double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32"}


class ModelSourceError(RuntimeError):
    """The model cannot be found, resolved or does not fit the serving contract."""


@dataclass(frozen=True)
class FeatureReference:
    """Training-time distribution of one feature, as stored by `model/` in the MLmodel file."""

    bin_edges: np.ndarray
    counts: np.ndarray
    minimum: float
    maximum: float


@dataclass(frozen=True)
class ModelArtifact:
    """A model directory on local disk plus what the server needs to know about it."""

    local_dir: str
    name: str
    version: str
    run_id: str
    feature_names: tuple[str, ...]
    feature_types: tuple[str, ...]
    references: tuple[FeatureReference, ...]

    def load_estimator(self) -> Any:
        """Unpickle the scikit-learn pipeline and check it answers class probabilities."""
        import mlflow.sklearn

        estimator = mlflow.sklearn.load_model(self.local_dir)
        if not hasattr(estimator, "predict_proba"):
            raise ModelSourceError(f"{self.local_dir}: the estimator has no predict_proba")
        classes = getattr(estimator, "classes_", None)
        if classes is None or not all(isinstance(c, str) for c in classes):
            raise ModelSourceError(
                f"{self.local_dir}: expected a classifier trained on string class names, "
                f"got classes {classes!r}"
            )
        fitted_names = getattr(estimator, "feature_names_in_", None)
        fitted = list(self.feature_names if fitted_names is None else fitted_names)
        if fitted != list(self.feature_names):
            raise ModelSourceError(
                f"{self.local_dir}: the estimator was fitted on columns {fitted} but the "
                f"signature names {list(self.feature_names)}"
            )
        return estimator


def resolve_model(model_uri: str) -> ModelArtifact:
    """Turn MODEL_URI into a local model directory with its signature and drift reference."""
    match = MODELS_URI.match(model_uri)
    if match:
        return _from_registry(model_uri, match)
    if model_uri.startswith("models:/"):
        raise ModelSourceError(
            f"MODEL_URI={model_uri!r}: expected models:/<name>/<version> or models:/<name>@<alias>"
        )
    if not os.path.isfile(os.path.join(model_uri, "MLmodel")):
        raise ModelSourceError(
            f"MODEL_URI={model_uri!r} is neither a models:/ URI nor a directory holding an "
            "MLmodel file"
        )
    return _read_model_dir(model_uri, name=os.path.basename(os.path.normpath(model_uri)))


def _from_registry(model_uri: str, match: re.Match[str]) -> ModelArtifact:
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    if not os.environ.get("MLFLOW_TRACKING_URI"):
        raise ModelSourceError(f"MODEL_URI={model_uri!r} needs MLFLOW_TRACKING_URI to be set")
    name = match["name"]
    client = MlflowClient()
    try:
        if match["alias"]:
            version = client.get_model_version_by_alias(name, match["alias"]).version
        else:
            version = client.get_model_version(name, match["version"]).version
        local_dir = download_artifacts(
            artifact_uri=f"models:/{name}/{version}",
            dst_path=tempfile.mkdtemp(prefix=f"{name}-{version}-"),
        )
    except MlflowException as error:
        raise ModelSourceError(f"cannot resolve MODEL_URI={model_uri!r}: {error.message}") from None
    return _read_model_dir(local_dir, name=name, version=str(version))


def _read_model_dir(local_dir: str, name: str, version: str | None = None) -> ModelArtifact:
    from mlflow.models import Model

    mlmodel = Model.load(local_dir)
    if mlmodel.signature is None or mlmodel.signature.inputs is None:
        raise ModelSourceError(f"{local_dir}: the MLmodel has no input signature to name features")
    inputs = mlmodel.signature.inputs.to_dict()
    names = tuple(column.get("name", "") for column in inputs)
    types = tuple(column.get("type", "") for column in inputs)
    unsupported = sorted({t for t in types if t not in MLFLOW_TO_TENSOR_TYPE})
    if not all(names) or unsupported:
        raise ModelSourceError(
            f"{local_dir}: expected named numeric input columns "
            f"({', '.join(MLFLOW_TO_TENSOR_TYPE)}), got {inputs}"
        )
    drift_reference = (mlmodel.metadata or {}).get("drift_reference")
    return ModelArtifact(
        local_dir=local_dir,
        name=name,
        version=version or mlmodel.model_uuid or "local",
        run_id=mlmodel.run_id or "",
        feature_names=names,
        feature_types=types,
        references=_feature_references(local_dir, names, drift_reference),
    )


def _feature_references(
    local_dir: str, names: tuple[str, ...], drift_reference: Any
) -> tuple[FeatureReference, ...]:
    features = drift_reference.get("features") if isinstance(drift_reference, dict) else None
    if not isinstance(features, dict) or set(names) - set(features):
        raise ModelSourceError(
            f"{local_dir}: MLmodel metadata['drift_reference']['features'] must describe every "
            f"input feature {list(names)}"
        )
    references = []
    for name in names:
        entry = features[name]
        try:
            edges = np.asarray(entry["bin_edges"], dtype=np.float64)
            counts = np.asarray(entry["counts"], dtype=np.float64)
            reference = FeatureReference(edges, counts, float(entry["min"]), float(entry["max"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ModelSourceError(
                f"{local_dir}: drift_reference for {name!r} is malformed ({error!r}); expected "
                "bin_edges, counts, min and max"
            ) from None
        if edges.ndim != 1 or len(edges) != len(counts) + 1 or np.any(np.diff(edges) < 0):
            raise ModelSourceError(
                f"{local_dir}: drift_reference for {name!r} needs K+1 increasing bin_edges for "
                f"K counts, got {len(edges)} edges and {len(counts)} counts"
            )
        references.append(reference)
    return tuple(references)

"""Where the served model comes from: a local MLflow model directory or a registry URI.

Everything here runs once at start-up, in the main process. Registry URIs are resolved to one
concrete version and downloaded once, so every worker serves the same version even if an alias
moves meanwhile. Before anything in the directory is parsed, its digest is checked against
MODEL_DIGEST; then the MLmodel file (YAML, safe-loaded) must name the skops format, and the skops
file only trusted types. No model file is deserialized here.
"""

import json
import logging
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from serving.model_digest import verify_digest
from serving.model_format import load_skops, skops_file, trusted_types

logger = logging.getLogger(__name__)
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
    """A checked model directory on local disk plus what the server needs to know about it."""

    local_dir: str
    name: str
    version: str
    run_id: str
    feature_names: tuple[str, ...]
    feature_types: tuple[str, ...]
    references: tuple[FeatureReference, ...]
    skops_path: Path

    @property
    def label(self) -> str:
        """How messages name this model: registered name and version."""
        return _label(self.name, self.version)

    def load_estimator(self) -> Any:
        """Rebuild the scikit-learn pipeline from its skops file and check its input columns."""
        estimator = load_skops(self.skops_path, self.label)
        fitted_names = getattr(estimator, "feature_names_in_", None)
        fitted = list(self.feature_names if fitted_names is None else fitted_names)
        if fitted != list(self.feature_names):
            raise ModelSourceError(
                f"{self.label}: the estimator was fitted on columns {fitted} but the "
                f"signature names {list(self.feature_names)}"
            )
        return estimator


def resolve_model(model_uri: str, model_digest: str | None) -> ModelArtifact:
    """Turn MODEL_URI into a checked local model directory with its signature and drift reference.

    With `model_digest` (MODEL_DIGEST) the directory must match it before its MLmodel is read.
    """
    match = MODELS_URI.match(model_uri)
    if match:
        local_dir, name, version = _download(model_uri, match)
        return _read_model_dir(local_dir, name, version, model_digest)
    if model_uri.startswith("models:/"):
        raise ModelSourceError(
            f"MODEL_URI={model_uri!r}: expected models:/<name>/<version> or models:/<name>@<alias>"
        )
    if not os.path.isfile(os.path.join(model_uri, "MLmodel")):
        raise ModelSourceError(
            f"MODEL_URI={model_uri!r} is neither a models:/ URI nor a directory holding an "
            "MLmodel file"
        )
    name = os.path.basename(os.path.normpath(model_uri))
    return _read_model_dir(model_uri, name, "local", model_digest)


def _download(model_uri: str, match: re.Match[str]) -> tuple[str, str, str]:
    """Resolve and download in a child process (serving/model_download.py): the MLflow client
    (~50 MiB) is never imported by the processes that serve. SIGTERM meanwhile stops both."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        raise ModelSourceError(f"MODEL_URI={model_uri!r} needs MLFLOW_TRACKING_URI to be set")
    child = subprocess.Popen(
        [sys.executable, "-m", "serving.model_download", match["name"], match["version"] or "",
         match["alias"] or ""],
        stdout=subprocess.PIPE,
    )  # fmt: skip

    def stop(number: int, _frame: Any) -> None:
        child.kill()
        raise SystemExit(128 + number)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        output, _ = child.communicate()
    finally:
        signal.signal(signal.SIGTERM, previous)
    lines = output.strip().splitlines()
    answer = json.loads(lines[-1]) if lines else {}
    if "error" in answer or child.returncode != 0:
        detail = answer.get("error", f"the download exited with status {child.returncode}")
        raise ModelSourceError(
            f"cannot resolve MODEL_URI={model_uri!r} from MLFLOW_TRACKING_URI="
            f"{os.environ['MLFLOW_TRACKING_URI']!r}: {detail}"
        )
    return answer["local_dir"], match["name"], answer["version"]


def _read_model_dir(
    local_dir: str, name: str, version: str, model_digest: str | None
) -> ModelArtifact:
    label = _label(name, version)
    if model_digest is None:
        logger.warning("MODEL_DIGEST is not set: %s is served without a digest check", label)
    else:
        verify_digest(Path(local_dir), model_digest, label)
    mlmodel = _mlmodel(local_dir)
    path = skops_file(Path(local_dir), mlmodel.get("flavors") or {}, label)
    trusted_types(path, label)
    inputs = _signature_inputs(local_dir, mlmodel)
    names = tuple(column.get("name", "") for column in inputs)
    types = tuple(column.get("type", "") for column in inputs)
    unsupported = sorted({t for t in types if t not in MLFLOW_TO_TENSOR_TYPE})
    if not all(names) or unsupported:
        raise ModelSourceError(
            f"{local_dir}: expected named numeric input columns "
            f"({', '.join(MLFLOW_TO_TENSOR_TYPE)}), got {inputs}"
        )
    drift_reference = (mlmodel.get("metadata") or {}).get("drift_reference")
    return ModelArtifact(
        local_dir=local_dir,
        name=name,
        version=version,
        run_id=str(mlmodel.get("run_id") or ""),
        feature_names=names,
        feature_types=types,
        references=_feature_references(local_dir, names, drift_reference),
        skops_path=path,
    )


def _mlmodel(local_dir: str) -> dict[str, Any]:
    """The MLmodel file, safe-loaded as MLflow writes it (mlflow/models/model.py, `Model.load`
    reads the same YAML)."""
    try:
        with open(os.path.join(local_dir, "MLmodel")) as file:
            document = yaml.safe_load(file)
    except (OSError, yaml.YAMLError) as error:
        raise ModelSourceError(f"{local_dir}: cannot read its MLmodel file ({error})") from None
    if not isinstance(document, dict):
        raise ModelSourceError(f"{local_dir}: the MLmodel file is not a YAML mapping")
    return document


def _signature_inputs(local_dir: str, mlmodel: dict[str, Any]) -> list[dict[str, Any]]:
    """The input columns of the signature (MLflow stores them as a JSON string)."""
    inputs = (mlmodel.get("signature") or {}).get("inputs")
    try:
        columns = json.loads(inputs) if isinstance(inputs, str) else None
    except ValueError:
        columns = None
    if not isinstance(columns, list) or not all(isinstance(c, dict) for c in columns):
        raise ModelSourceError(f"{local_dir}: the MLmodel has no input signature to name features")
    return columns


def _label(name: str, version: str) -> str:
    return f"model {name} version {version}"


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

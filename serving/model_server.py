"""The class `seldon-core-microservice serving.model_server.ModelServer` runs.

The main process resolves MODEL_URI once and describes the model; each gunicorn worker then
loads its own copy of the pipeline in `load`. Predictions go through `predict_raw` so that every
request is validated here (bad input is a 400, see request_payload) and the response is built
without Seldon's generic conversions.
"""

import logging
import warnings
from typing import Any

import numpy as np
import sklearn
from seldon_core.proto import prediction_pb2
from seldon_core.utils import get_request_path, json_to_seldon_message, seldon_message_to_json

from serving.http_errors import model_error_handler
from serving.model_source import MLFLOW_TO_TENSOR_TYPE, ModelArtifact, resolve_model
from serving.process_model import install as install_process_model
from serving.request_payload import RequestParser
from serving.seldon_metrics_ipc import skip_empty_metric_updates
from serving.settings import ServerSettings
from serving.traffic_metrics import TrafficMetrics

logger = logging.getLogger(__name__)

skip_empty_metric_updates()
install_process_model()
# Requests are validated and put in the signature's column order (checked against the pipeline's
# feature_names_in_ at load), so plain arrays are intended; the per-call warning would flood logs.
warnings.filterwarnings(
    "ignore", message="X does not have valid feature names", category=UserWarning
)


class ModelServer:
    """Seldon Python component serving class probabilities of an MLflow scikit-learn model."""

    model_error_handler = model_error_handler

    def __init__(self) -> None:
        self.settings = ServerSettings.from_env()
        self.artifact: ModelArtifact = resolve_model(self.settings.model_uri)
        self.parser = RequestParser(self.artifact.feature_names, self.settings.max_batch_rows)
        self._estimator: Any = None
        self._class_names: list[str] = []
        self._metrics: TrafficMetrics | None = None
        logger.info(
            "serving %s version %s from %s",
            self.artifact.name,
            self.artifact.version,
            self.artifact.local_dir,
        )

    def load(self) -> None:
        """Load the pipeline in this worker (called once per process by Seldon)."""
        self._estimator = self.artifact.load_estimator()
        self._class_names = [str(name) for name in self._estimator.classes_]
        self._metrics = TrafficMetrics(
            self._class_names,
            self.artifact.feature_names,
            self.artifact.references,
            window_rows=self.settings.drift_window_rows,
            min_drift_rows=self.settings.drift_min_rows,
            flush_seconds=self.settings.metrics_flush_seconds,
        )

    def predict_raw(self, request: Any) -> Any:
        """Answer one Seldon prediction request (JSON dict over REST, proto over gRPC)."""
        if isinstance(request, prediction_pb2.SeldonMessage):
            answer = self._answer(seldon_message_to_json(request))
            # proto3 drops zero values, and Seldon then fails on a metric without "value".
            metrics = [m for m in answer["meta"].pop("metrics", []) if m["value"]]
            if metrics:
                answer["meta"]["metrics"] = metrics
            return json_to_seldon_message(answer)
        return self._answer(request)

    def _answer(self, body: Any) -> dict[str, Any]:
        parsed = self.parser.parse(body)
        # Inputs are already checked finite; skip scikit-learn's repeated validation.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            probabilities = self._estimator.predict_proba(parsed.features)
        meta: dict[str, Any] = {"tags": self.tags()}
        puid = (body.get("meta") or {}).get("puid")
        if puid:
            meta["puid"] = puid
        request_path = get_request_path()
        if request_path:
            meta["requestPath"] = request_path
        metrics = self._metrics.record(parsed.features, probabilities)
        if metrics:
            meta["metrics"] = metrics
        return {"data": _payload(parsed.kind, self._class_names, probabilities), "meta": meta}

    def tags(self) -> dict[str, str]:
        """Every response says which registered model version answered it."""
        return {"model_name": self.artifact.name, "model_version": self.artifact.version}

    def health_status(self) -> dict[str, Any]:
        """Run the model on the training-range midpoint: proves the worker can predict."""
        row = np.array([[(ref.minimum + ref.maximum) / 2 for ref in self.artifact.references]])
        probabilities = self._estimator.predict_proba(row)
        return {"status": "ok", **self.tags(), "classes": len(probabilities[0])}

    def init_metadata(self) -> dict[str, Any]:
        """Inputs, outputs, name and version for Seldon's /metadata endpoint."""
        estimator = self._estimator or self.artifact.load_estimator()
        artifact = self.artifact
        inputs = [
            {"name": name, "datatype": MLFLOW_TO_TENSOR_TYPE[kind], "shape": [-1]}
            for name, kind in zip(artifact.feature_names, artifact.feature_types, strict=True)
        ]
        outputs = [
            {"name": str(name), "datatype": "FP64", "shape": [-1]} for name in estimator.classes_
        ]
        return {
            "name": artifact.name,
            "versions": [artifact.version],
            "platform": "sklearn",
            "inputs": inputs,
            "outputs": outputs,
            "custom": {
                "run_id": artifact.run_id,
                "model_uri": self.settings.model_uri,
                "payload": "data.ndarray or data.tensor rows of the inputs in this order",
                "outputs": "class probabilities, one column per class in this order",
                "max_batch_rows": str(self.settings.max_batch_rows),
            },
        }


def _payload(kind: str, class_names: list[str], probabilities: np.ndarray) -> dict[str, Any]:
    if kind == "tensor":
        return {
            "names": class_names,
            "tensor": {
                "shape": list(probabilities.shape),
                "values": probabilities.ravel().tolist(),
            },
        }
    return {"names": class_names, "ndarray": probabilities.tolist()}

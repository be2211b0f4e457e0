"""The class `seldon-core-microservice serving.model_server.ModelServer` runs.

The main process resolves MODEL_URI once, checks the artifact (digest, format) and describes
the model; `load` then builds the runtime for the model's kind (model_kinds), once in the
gunicorn arbiter before it forks the workers (process_model preloads the app). Predictions go
through `predict_raw` so that every request is validated here (bad input is a 400, see
request_payload) and the response is built without Seldon's generic conversions.
"""

import logging
import warnings
from typing import Any

import numpy as np
from seldon_core.proto import prediction_pb2
from seldon_core.utils import get_request_path, json_to_seldon_message, seldon_message_to_json

from serving import model_kinds
from serving.http_errors import error_blueprint
from serving.model_kinds import ModelRuntime, Prediction
from serving.model_source import MLFLOW_TO_TENSOR_TYPE, ModelArtifact, resolve_model
from serving.process_model import install as install_process_model
from serving.request_payload import RequestParser
from serving.seldon_metrics_ipc import skip_empty_metric_updates
from serving.settings import ServerSettings
from serving.shutdown import stop_children_on_exit
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
    """Seldon Python component serving an MLflow scikit-learn model of any supported kind."""

    def __init__(self) -> None:
        stop_children_on_exit()
        self.settings = ServerSettings.from_env()
        self.model_error_handler = error_blueprint(self.settings.max_request_bytes)
        self.artifact: ModelArtifact = resolve_model(
            self.settings.model_uri, self.settings.model_digest
        )
        self.parser = RequestParser(self.artifact.feature_names, self.settings.max_batch_rows)
        self._runtime: ModelRuntime | None = None
        self._metrics: TrafficMetrics | None = None
        logger.info(
            "serving %s version %s from %s",
            self.artifact.name,
            self.artifact.version,
            self.artifact.local_dir,
        )

    def load(self) -> None:
        """Load the model in this worker (called once per process by Seldon)."""
        self._runtime = model_kinds.load(self.artifact)
        self._metrics = TrafficMetrics(
            self._runtime.class_names,
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
        prediction = self._runtime.predict(parsed.features)
        meta: dict[str, Any] = {"tags": self.tags()}
        puid = (body.get("meta") or {}).get("puid")
        if puid:
            meta["puid"] = puid
        request_path = get_request_path()
        if request_path:
            meta["requestPath"] = request_path
        metrics = self._metrics.record(parsed.features, prediction.winners)
        if metrics:
            meta["metrics"] = metrics
        return {"data": _payload(parsed.kind, prediction), "meta": meta}

    def tags(self) -> dict[str, str]:
        """Every response says which predictor and registered model version answered it."""
        return {
            "deployment": self.settings.deployment,
            "predictor": self.settings.predictor,
            "model_name": self.artifact.name,
            "model_version": self.artifact.version,
        }

    def health_status(self) -> dict[str, Any]:
        """Run the model on the training-range midpoint: proves the worker can predict."""
        row = np.array([[(ref.minimum + ref.maximum) / 2 for ref in self.artifact.references]])
        prediction = self._runtime.predict(row)
        return {
            "status": "ok",
            **self.tags(),
            "kind": self._runtime.kind,
            "outputs": len(prediction.names),
        }

    def init_metadata(self) -> dict[str, Any]:
        """Inputs, outputs, name and version for Seldon's /metadata endpoint."""
        # Seldon asks in the main process, before the workers have loaded their copy.
        described = (self._runtime or model_kinds.load(self.artifact)).metadata()
        artifact = self.artifact
        inputs = [
            {"name": name, "datatype": MLFLOW_TO_TENSOR_TYPE[kind], "shape": [-1]}
            for name, kind in zip(artifact.feature_names, artifact.feature_types, strict=True)
        ]
        return {
            "name": artifact.name,
            "versions": [artifact.version],
            "platform": "sklearn",
            "inputs": inputs,
            "outputs": described["outputs"],
            "custom": {
                "run_id": artifact.run_id,
                "model_uri": self.settings.model_uri,
                "kind": described["kind"],
                "payload": "data.ndarray or data.tensor rows of the inputs in this order",
                "outputs": described["description"],
                "max_batch_rows": str(self.settings.max_batch_rows),
            },
        }


def _payload(kind: str, prediction: Prediction) -> dict[str, Any]:
    """The answer in the request's payload kind; class-name strings cannot ride in a tensor."""
    values = prediction.values
    if kind == "tensor" and prediction.numeric:
        return {
            "names": prediction.names,
            "tensor": {"shape": list(values.shape), "values": values.ravel().tolist()},
        }
    return {"names": prediction.names, "ndarray": values.tolist()}

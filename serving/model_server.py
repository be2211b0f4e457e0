"""The Seldon model unit: answers predictions, feedback, health and metadata as plain dicts.

The supervisor resolves MODEL_URI once, checks the artifact (digest, format) and loads the
model's runtime (model_kinds) before it forks the workers; each worker then starts its own
accounting. The transports (rest_api, grpc_api) decode requests into dicts and encode these
answers; every request is validated here, so bad input is a 400 naming what is wrong.
"""

import logging
import math
import warnings
from typing import Any

import numpy as np
from google.protobuf import json_format
from seldon_core.env_utils import NONIMPLEMENTED_MSG, get_image_name, get_model_name
from seldon_core.proto import prediction_pb2

from serving import model_kinds
from serving.accounting import Accounting
from serving.http_errors import InvalidRequest
from serving.model_kinds import ModelRuntime, Prediction
from serving.model_source import MLFLOW_TO_TENSOR_TYPE, ModelArtifact, resolve_model
from serving.request_payload import RequestParser, type_name
from serving.settings import ServerSettings
from serving.shadow_comparison import ReferenceModel

logger = logging.getLogger(__name__)

# Requests are validated and put in the signature's column order (checked against the pipeline's
# feature_names_in_ at load), so plain arrays are intended; the per-call warning would flood logs.
warnings.filterwarnings(
    "ignore", message="X does not have valid feature names", category=UserWarning
)


class ModelServer:
    """One MLflow scikit-learn model of any supported kind, behind Seldon's protocol."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.artifact: ModelArtifact = resolve_model(settings.model_uri, settings.model_digest)
        self.parser = RequestParser(self.artifact.feature_names, settings.max_batch_rows)
        logger.info(
            "serving %s version %s from %s",
            self.artifact.name,
            self.artifact.version,
            self.artifact.local_dir,
        )
        self.runtime: ModelRuntime = model_kinds.load(self.artifact)
        self.reference = (
            None
            if settings.compare_model_uri is None
            else ReferenceModel(
                settings.compare_model_uri,
                settings.compare_model_digest,
                list(self.artifact.feature_names),
            )
        )
        self.accounting: Accounting | None = None
        model_name = get_model_name()
        # Seldon's `meta.requestPath` (seldon_core/utils.py, get_request_path).
        self._request_path = (
            {} if model_name == NONIMPLEMENTED_MSG else {model_name: get_image_name()}
        )
        self._tags = {
            "deployment": settings.deployment,
            "model_name": self.artifact.name,
            "model_version": self.artifact.version,
            "predictor": settings.predictor,
        }
        self._metadata = self._describe()

    def start_accounting(self) -> None:
        """In each worker, once forked: its counters (serving/accounting.py)."""
        self.accounting = Accounting(
            self.runtime.class_names,
            self.artifact.feature_names,
            self.artifact.references,
            window_rows=max(1, self.settings.drift_window_rows // self.settings.workers),
            reference_version=None if self.reference is None else self.reference.version,
        )

    def predict(self, body: Any) -> dict[str, Any]:
        """Answer one Seldon prediction request (the decoded JSON body)."""
        parsed = self.parser.parse(body)
        prediction = self.runtime.predict(parsed.features)
        self.accounting.prediction(parsed.features, prediction.winners)
        if self.reference is not None:
            disagreeing = self.reference.disagreements(parsed.features, self.runtime, prediction)
            self.accounting.comparison(len(parsed.features), disagreeing)
        meta: dict[str, Any] = {}
        puid = (body.get("meta") or {}).get("puid")
        if puid:
            meta["puid"] = puid
        return {"data": _payload(parsed.kind, prediction), "meta": self._meta(meta)}

    def feedback(self, body: Any) -> dict[str, Any]:
        """Count one Seldon feedback message and its reward; answer as Seldon's wrapper does."""
        if not isinstance(body, dict):
            raise InvalidRequest(
                f"feedback body must be a JSON object, got {type_name(body)}; expected "
                '{"request": {...}, "response": {...}, "reward": <number>}'
            )
        reward = self._reward(body.get("reward", 0))
        try:  # the shape Seldon's wrapper accepts (seldon_core/utils.py, json_to_feedback)
            json_format.ParseDict(body, prediction_pb2.Feedback())
        except (json_format.ParseError, TypeError, ValueError) as error:
            raise InvalidRequest(f"Invalid JSON: {error}") from None
        self.accounting.feedback(reward)
        request_data = (body.get("request") or {}).get("data") or {}
        # seldon_methods.send_feedback answers an empty payload of the request's kind.
        data = {"ndarray": []} if "ndarray" in request_data else {"tensor": {"shape": [0]}}
        return {"data": data, "meta": self._meta({})}

    def _reward(self, reward: Any) -> float:
        low, high = self.settings.reward_range
        expected = (
            f"expected a number in [{low:g}, {high:g}] (FEEDBACK_REWARD_MIN, FEEDBACK_REWARD_MAX)"
        )
        if type(reward) not in (int, float):
            raise InvalidRequest(f"feedback 'reward' is {type_name(reward)}; {expected}")
        try:
            value = float(reward)
        except OverflowError:  # an integer beyond a float's range: far outside any range
            digits = len(str(abs(reward)))
            raise InvalidRequest(
                f"feedback 'reward' is an integer of {digits} digits, too large for a number; "
                f"{expected}"
            ) from None
        if not math.isfinite(value) or not low <= value <= high:
            raise InvalidRequest(f"feedback 'reward' is {reward}; {expected}")
        return value

    def health_status(self) -> dict[str, Any]:
        """Run the model on the training-range midpoint: proves the worker can predict."""
        row = np.array([[(ref.minimum + ref.maximum) / 2 for ref in self.artifact.references]])
        prediction = self.runtime.predict(row)
        status = {
            "status": "ok",
            **self._tags,
            "kind": self.runtime.kind,
            "outputs": len(prediction.names),
        }
        return {"jsonData": status, "meta": self._meta({})}

    def metadata(self) -> dict[str, Any]:
        """Inputs, outputs, name and version for Seldon's /metadata endpoint."""
        return self._metadata

    def _meta(self, meta: dict[str, Any]) -> dict[str, Any]:
        """Every answer says which predictor and registered model version gave it."""
        if self._request_path:
            meta["requestPath"] = self._request_path
        meta["tags"] = self._tags
        return meta

    def _describe(self) -> dict[str, Any]:
        described = self.runtime.metadata()
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

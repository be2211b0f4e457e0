"""The Seldon Core v1 executor's logger CloudEvents, as the sink reads them.

The executor (seldon-core v1.17.1 `executor/predictor/predictor_process.go`, `logPayload`) queues
one event per logged payload and its logger workers (`executor/logger/worker.go`,
`sendCloudEvent`) POST it with the CloudEvents sdk-go v1.2.0 binary HTTP encoding
(`pkg/cloudevents/transport/http/codec_v1.go`, `toHeaders`): the payload is the body, and
`Ce-Id` (a fresh UUID per event, not the request's), `Ce-Type`, `Ce-Source`, `Ce-Specversion`,
and the extensions `Ce-Requestid` (the request's Seldon-Puid), `Ce-Modelid` (graph node),
`Ce-Inferenceservicename` (SeldonDeployment), `Ce-Namespace`, `Ce-Endpoint` (predictor) and
`Ce-Protocol` are headers.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

EVENT_KINDS = {
    "io.seldon.serving.inference.request": "request",
    "io.seldon.serving.inference.response": "response",
    "io.seldon.serving.feedback": "feedback",
}
"""`Ce-Type` values (worker.go, CEInferenceRequest/CEInferenceResponse/CEFeedback)."""


class EventError(ValueError):
    """A POST that is not a Seldon logger event the sink can store; answered 400."""


@dataclass(frozen=True)
class LoggedEvent:
    """One logged payload of one request."""

    kind: str
    request_id: str
    namespace: str
    deployment: str
    predictor: str
    body: dict[str, Any]

    @property
    def key(self) -> str:
        """`<namespace>/<deployment>`, the deployment the settings and the output are keyed by."""
        return f"{self.namespace}/{self.deployment}"

    def joined_id(self) -> str:
        """The id the request's rows are stored under. The executor logs feedback under the
        feedback call's own Seldon-Puid (a new one unless the caller repeats the prediction's,
        `executor/api/rest/middlewares.go`, `puidHeader`); the feedback body's
        `response.meta.puid` names the prediction when the caller sent it back."""
        if self.kind == "feedback":
            meta = (self.body.get("response") or {}).get("meta") or {}
            puid = meta.get("puid")
            if isinstance(puid, str) and puid:
                return puid
        return self.request_id


def parse_event(headers: dict[str, str], body: bytes) -> LoggedEvent:
    """The event of one POST, or EventError naming what is missing. `headers` lower-cased."""
    kind = EVENT_KINDS.get(headers.get("ce-type", ""))
    if kind is None:
        raise EventError(f"Ce-Type {headers.get('ce-type')!r} is not one of {sorted(EVENT_KINDS)}")
    missing = [
        name
        for name in ("ce-requestid", "ce-inferenceservicename", "ce-namespace", "ce-endpoint")
        if not headers.get(name)
    ]
    if missing:
        raise EventError(f"missing CloudEvents headers {missing}")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise EventError(f"body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise EventError("body must be a Seldon JSON message (an object)")
    return LoggedEvent(
        kind=kind,
        request_id=headers["ce-requestid"],
        namespace=headers["ce-namespace"],
        deployment=headers["ce-inferenceservicename"],
        predictor=headers["ce-endpoint"],
        body=document,
    )


def sampled(request_id: str, rate: float) -> bool:
    """Whether a request is kept: a hash of its id below `rate`, so its response and feedback
    (same id) get the same answer in any sink replica and after any restart."""
    if rate >= 1:
        return True
    bucket = int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big")
    return bucket < rate * 2**64

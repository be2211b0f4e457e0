"""The HTTP side of the trigger: Alertmanager's webhook in, one retrain request out.

`POST /v1/retrain/<deployment>` with Alertmanager's webhook body (version 4) and
`Authorization: Bearer <token>`; `GET /healthz` for probes. Answers: 202 a Job was created,
200 nothing to do (resolved alerts, debounced, suspended), 400 a body that is not a webhook,
401 a missing or wrong token, 404 an unknown deployment or path, 413 a body over 1 MiB, 502 the
Kubernetes API failed (Alertmanager retries a non-2xx notification).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kubernetes.client.exceptions import ApiException

from continuous_training.job_from_cronjob import RetrainReason
from continuous_training.retrainer import Retrainer, UnknownDeployment

LOG = logging.getLogger("continuous_training.webhook")
MAX_BODY_BYTES = 1 << 20
RETRAIN_PATH = re.compile(r"^/v1/retrain/(?P<deployment>[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$")


class BadWebhook(ValueError):
    """A request body that is not an Alertmanager webhook notification."""


def reason_from_webhook(body: Any, deployment: str, now: datetime) -> RetrainReason | None:
    """The first firing alert of the notification as a reason; None when nothing fires."""
    if not isinstance(body, dict) or not isinstance(body.get("alerts"), list):
        raise BadWebhook("expected Alertmanager's webhook JSON: an object with an 'alerts' list")
    firing = []
    for index, alert in enumerate(body["alerts"]):
        labels = alert.get("labels") if isinstance(alert, dict) else None
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise BadWebhook(f"alerts[{index}].labels must be an object of strings")
        named = labels.get("deployment_name", deployment)
        if named != deployment:
            raise BadWebhook(
                f"alerts[{index}] is about deployment {named!r}, but this route retrains "
                f"{deployment!r}: check the AlertmanagerConfig's matchers"
            )
        if alert.get("status") == "firing":
            firing.append(labels)
    if not firing:
        return None
    labels = firing[0]
    return RetrainReason(alert=labels.get("alertname", "unnamed"), labels=labels, requested_at=now)


def serve(retrainer: Retrainer, token: str, host: str, port: int) -> ThreadingHTTPServer:
    """A server bound to (host, port), not yet serving; call `serve_forever` on it."""
    expected = f"Bearer {token}".encode()

    class Handler(BaseHTTPRequestHandler):
        server_version = "retrain-trigger"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/healthz":
                self._answer(HTTPStatus.OK, {"status": "ok"})
            else:
                self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            match = RETRAIN_PATH.match(self.path)
            if match is None:
                self._answer(
                    HTTPStatus.NOT_FOUND,
                    {"error": f"no such path {self.path}; expected /v1/retrain/<deployment>"},
                )
                return
            given = (self.headers.get("Authorization") or "").encode()
            if not hmac.compare_digest(given, expected):
                self._answer(
                    HTTPStatus.UNAUTHORIZED,
                    {"error": "missing or wrong bearer token"},
                    {"WWW-Authenticate": 'Bearer realm="retrain"'},
                )
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._answer(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    {"error": f"body of {length} bytes; at most {MAX_BODY_BYTES}"},
                )
                return
            deployment = match["deployment"]
            try:
                body = json.loads(self.rfile.read(length) or b"null")
                reason = reason_from_webhook(body, deployment, datetime.now(UTC))
            except (json.JSONDecodeError, UnicodeDecodeError, BadWebhook) as error:
                self._answer(HTTPStatus.BAD_REQUEST, {"error": f"bad webhook body: {error}"})
                return
            if reason is None:
                self._answer(HTTPStatus.OK, {"started": False, "detail": "no firing alert"})
                return
            try:
                outcome = retrainer.retrain(deployment, reason)
            except UnknownDeployment as error:
                self._answer(HTTPStatus.NOT_FOUND, {"error": str(error)})
                return
            except ApiException as error:
                LOG.error("Kubernetes API refused the retrain of %s: %s", deployment, error)
                self._answer(
                    HTTPStatus.BAD_GATEWAY,
                    {"error": f"Kubernetes API answered {error.status} {error.reason}"},
                )
                return
            status = HTTPStatus.ACCEPTED if outcome.started else HTTPStatus.OK
            self._answer(status, outcome.as_dict())

        def _answer(
            self, status: HTTPStatus, body: dict, headers: dict[str, str] | None = None
        ) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            LOG.info("%s %s", self.address_string(), format % args)

    return ThreadingHTTPServer((host, port), Handler)

"""The HTTPS side of the trigger: Alertmanager's webhook in, one retrain request out.

`POST /v1/retrain/<deployment>` with Alertmanager's webhook body (version 4) and
`Authorization: Bearer <token>`; `GET /healthz` for probes. Answers: 202 a Job was created,
200 nothing to do (resolved alerts, debounced, suspended), 400 a body that is not a webhook for
this route or a malformed `Content-Length`, 401 a missing or wrong token, 404 an unknown
deployment or path, 408 a request not received within `REQUEST_DEADLINE_S`, 411 no
`Content-Length`, 413 a body over `MAX_BODY_BYTES`, 422 only stale alerts (continuous_training/
alerts.py), 502 the Kubernetes API failed. Only over TLS: the port speaks nothing else.

Abuse bounds: at most `MAX_CONNECTIONS` connections (threads) at once, each cut
`REQUEST_DEADLINE_S` after it was accepted however slowly it sends (its TLS handshake included,
which runs in the connection's own thread, never in the accepting one); the body's length is
checked before a byte of it is read; bodies are parsed one at a time. A connection over the cap
is closed at once, before its handshake (Alertmanager retries a failed notification).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
import ssl
import threading
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kubernetes.client.exceptions import ApiException

from continuous_training.alerts import BadWebhook, StaleAlerts, reason_from_webhook
from continuous_training.retrainer import Retrainer, UnknownDeployment

LOG = logging.getLogger("continuous_training.webhook")
MAX_BODY_BYTES = 256 << 10
"""Alertmanager's notification for at most `maxAlerts: 10` alerts is a few KiB."""
MAX_CONNECTIONS = 16
REQUEST_DEADLINE_S = 5.0
"""From accept to the last byte of the body; Alertmanager sends a notification at once."""
RETRAIN_PATH = re.compile(r"^/v1/retrain/(?P<deployment>[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$")
CONTENT_LENGTH = re.compile(r"^[0-9]{1,10}$", re.ASCII)


class RequestError(Exception):
    """A request the trigger answers with a 4xx: the status and what was wrong."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def body_length(headers: Any) -> int:
    """The request's `Content-Length`, checked before any of the body is read."""
    if headers.get("Transfer-Encoding") is not None:
        raise RequestError(
            HTTPStatus.LENGTH_REQUIRED, "Transfer-Encoding is not accepted; send Content-Length"
        )
    values = headers.get_all("Content-Length") or []
    if not values:
        raise RequestError(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
    if len(values) > 1 or not CONTENT_LENGTH.match(values[0]):
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"Content-Length must be one decimal number of bytes, got {', '.join(values)!r}",
        )
    length = int(values[0])
    if length > MAX_BODY_BYTES:
        raise RequestError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"body of {length} bytes; at most {MAX_BODY_BYTES}",
        )
    return length


class BoundedServer(ThreadingHTTPServer):
    """A thread per connection, at most `MAX_CONNECTIONS`; the next ones are closed at once.
    Each accepted connection does its TLS handshake in its own thread."""

    request_queue_size = 128
    """The listen backlog: connections over the cap are accepted and refused at once rather than
    left retrying their handshake (socketserver's default is 5)."""

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        tls: ssl.SSLContext,
    ) -> None:
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.tls = tls
        super().__init__(address, handler)

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        request = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: socket.socket, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: socket.socket, client_address: Any) -> None:
        """A connection cut at its deadline or by the client: one line, no traceback."""
        LOG.info("connection from %s ended early", client_address[0])


def tls_context(certificate: str, key: str) -> ssl.SSLContext:
    """The server side of TLS 1.2 and later with `certificate` and its `key` (PEM files)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context


def serve(
    retrainer: Retrainer, token: str, host: str, port: int, tls: ssl.SSLContext
) -> BoundedServer:
    """A server bound to (host, port) speaking only TLS, not yet serving; call `serve_forever`
    on it."""
    expected = f"Bearer {token}".encode()
    one_at_a_time = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server_version = "retrain-trigger"
        timeout = REQUEST_DEADLINE_S

        def setup(self) -> None:
            self._deadline = threading.Timer(REQUEST_DEADLINE_S, self._cut)
            self._deadline.daemon = True
            self._deadline.start()
            super().setup()  # bounds every read, the handshake's too, by `timeout`
            self.connection.do_handshake()

        def finish(self) -> None:
            self._deadline.cancel()
            super().finish()

        def _cut(self) -> None:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/healthz":
                self._answer(HTTPStatus.OK, {"status": "ok"})
            else:
                self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            try:
                self._answer(*self._retrain())
            except RequestError as error:
                self._answer(error.status, {"error": str(error)}, self._error_headers(error))

        def _retrain(self) -> tuple[HTTPStatus, dict]:
            match = RETRAIN_PATH.match(self.path)
            if match is None:
                raise RequestError(
                    HTTPStatus.NOT_FOUND,
                    f"no such path {self.path}; expected /v1/retrain/<deployment>",
                )
            given = (self.headers.get("Authorization") or "").encode("latin-1")
            if not hmac.compare_digest(given, expected):
                raise RequestError(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token")
            raw = self._read_body(body_length(self.headers))
            deployment = match["deployment"]
            with one_at_a_time:
                try:
                    body = json.loads(raw)
                    reason = reason_from_webhook(
                        body,
                        deployment=deployment,
                        namespace=retrainer.namespace,
                        now=datetime.now(UTC),
                    )
                except (ValueError, RecursionError) as error:
                    status = (
                        HTTPStatus.UNPROCESSABLE_ENTITY
                        if isinstance(error, StaleAlerts)
                        else HTTPStatus.BAD_REQUEST
                    )
                    raise RequestError(status, _body_problem(error)) from None
                if reason is None:
                    return HTTPStatus.OK, {"started": False, "detail": "no firing alert"}
                try:
                    outcome = retrainer.retrain(deployment, reason)
                except UnknownDeployment as error:
                    raise RequestError(HTTPStatus.NOT_FOUND, str(error)) from None
                except ApiException as error:
                    LOG.error("Kubernetes API refused the retrain of %s: %s", deployment, error)
                    return HTTPStatus.BAD_GATEWAY, {
                        "error": f"Kubernetes API answered {error.status} {error.reason}"
                    }
            return (HTTPStatus.ACCEPTED if outcome.started else HTTPStatus.OK), outcome.as_dict()

        def _read_body(self, length: int) -> bytes:
            try:
                raw = self.rfile.read(length)
            except TimeoutError:
                raw = b""
            if len(raw) != length:
                raise RequestError(
                    HTTPStatus.REQUEST_TIMEOUT,
                    f"body of {length} bytes not received within {REQUEST_DEADLINE_S:g}s",
                )
            self._deadline.cancel()
            return raw

        @staticmethod
        def _error_headers(error: RequestError) -> dict[str, str]:
            if error.status == HTTPStatus.UNAUTHORIZED:
                return {"WWW-Authenticate": 'Bearer realm="retrain"'}
            return {}

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

    return BoundedServer((host, port), Handler, tls)


def _body_problem(error: Exception) -> str:
    if isinstance(error, StaleAlerts):
        return f"stale alerts, nothing started: {error}"
    if isinstance(error, RecursionError):
        return "bad webhook body: JSON nested too deeply for a webhook notification"
    if isinstance(error, BadWebhook):
        return f"bad webhook body: {error}"
    return f"bad webhook body: not UTF-8 JSON ({error})"

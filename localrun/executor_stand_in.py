"""A stand-in for Seldon Core v1.17.1's executor in front of one model server: it forwards
predictions and feedback and logs them with the executor's request logger, so the request-log
sink can be run against the payloads a cluster would send. No Go executor runs here.

What it reproduces, from seldon-core v1.17.1:
- `executor/api/rest/middlewares.go` `puidHeader`: a request without `Seldon-Puid` gets a new
  UUID; the answer carries it as `Seldon-Puid`.
- `executor/predictor/predictor_process.go`: with logger mode `all`, the MODEL node's request
  and its response are logged (`logPayload`), feedback too (`Feedback`), each under the call's
  puid; a `Seldon-Skip-Logging: true` call is not logged. Logging never blocks the call: the
  payload goes to a goroutine that queues it.
- `executor/logger/collector.go`: a queue of 10000 (`DefaultWorkQueueSize`); a payload that
  cannot be queued within 2000 ms (`DefaultWriteTimeoutMilliseconds`) is dropped and logged.
- `executor/logger/worker.go` `sendCloudEvent` with sdk-go v1.2.0's binary HTTP encoding
  (`pkg/cloudevents/transport/http/codec_v1.go` `toHeaders`): the headers below, 60 s client
  timeout, a failed send is logged and dropped (no retry); 10 workers (`executor/cmd/executor/
  main.go`, `logger_workers`).
"""

import logging
import queue
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

logger = logging.getLogger(__name__)
QUEUE_SIZE = 10000
WRITE_TIMEOUT_S = 2.0
LOGGER_WORKERS = 10
SEND_TIMEOUT_S = 60
CE_TYPES = {
    "Request": "io.seldon.serving.inference.request",
    "Response": "io.seldon.serving.inference.response",
    "Feedback": "io.seldon.serving.feedback",
}


class ExecutorStandIn:
    """Serves `/api/v1.0/predictions` and `/api/v1.0/feedback` on a free port, forwarding to
    `model_url` and logging to `logger_url`; use as a context manager."""

    def __init__(
        self, model_url: str, logger_url: str, *, deployment: str, namespace: str, predictor: str
    ) -> None:
        self.model_url = model_url.rstrip("/")
        self.logger_url = logger_url
        self.deployment, self.namespace, self.predictor = deployment, namespace, predictor
        self.queue: queue.Queue = queue.Queue(QUEUE_SIZE)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._tally = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        # executor/cmd/executor/main.go getServerUrl: http://<hostname>:<port>/
        self.source = f"http://{deployment}-{predictor}.{namespace}:8000/"
        self._session = threading.local()

    def __enter__(self) -> "ExecutorStandIn":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        for _ in range(LOGGER_WORKERS):
            threading.Thread(target=self._logger_worker, daemon=True).start()
        return self

    def __exit__(self, *_) -> None:
        self._server.shutdown()
        self._server.server_close()

    def drained(self, timeout: float) -> bool:
        """Whether every queued payload was sent (or failed) within `timeout` seconds."""
        done = threading.Event()
        threading.Thread(target=lambda: (self.queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout)

    def _log_payload(self, kind: str, body: bytes, puid: str, content_type: str) -> None:
        def enqueue() -> None:  # the goroutine of predictor_process.go logPayload
            try:
                self.queue.put((kind, body, puid, content_type), timeout=WRITE_TIMEOUT_S)
            except queue.Full:
                with self._tally:
                    self.dropped += 1
                logger.error("failed to log request: timed out waiting to queue log request")

        threading.Thread(target=enqueue, daemon=True).start()

    def _logger_worker(self) -> None:
        session = requests.Session()
        while True:
            kind, body, puid, content_type = self.queue.get()
            headers = {
                "ce-specversion": "1.0",
                "ce-type": CE_TYPES[kind],
                "ce-source": self.source,
                "ce-id": str(uuid.uuid4()),
                "ce-time": datetime.now(UTC).isoformat(),
                "Content-Type": content_type,
                "ce-modelid": "model",
                "ce-requestid": puid,
                "ce-inferenceservicename": self.deployment,
                "ce-namespace": self.namespace,
                "ce-endpoint": self.predictor,
                "ce-protocol": "seldon",
            }
            try:
                answer = session.post(
                    self.logger_url, data=body, headers=headers, timeout=SEND_TIMEOUT_S
                )
                answer.raise_for_status()
                with self._tally:
                    self.sent += 1
            except requests.RequestException as error:
                with self._tally:
                    self.failed += 1
                logger.error("Failed to send cloudevent log: %s", error)
            finally:
                self.queue.task_done()

    def _forward(self, path: str, body: bytes, puid: str) -> requests.Response:
        session = getattr(self._session, "value", None)
        if session is None:
            session = self._session.value = requests.Session()
        return session.post(
            f"{self.model_url}{path}",
            data=body,
            headers={"Content-Type": "application/json", "Seldon-Puid": puid},
            timeout=30,
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                puid = self.headers.get("Seldon-Puid") or str(uuid.uuid4())
                log = self.headers.get("Seldon-Skip-Logging", "").lower() != "true"
                content_type = self.headers.get("Content-Type") or "application/json"
                if self.path == "/api/v1.0/feedback":
                    if log:
                        stand_in._log_payload("Feedback", body, puid, content_type)
                    answer = stand_in._forward(self.path, body, puid)
                elif self.path == "/api/v1.0/predictions":
                    if log:
                        stand_in._log_payload("Request", body, puid, content_type)
                    answer = stand_in._forward(self.path, body, puid)
                    if log and answer.status_code == 200:
                        stand_in._log_payload("Response", answer.content, puid, "application/json")
                else:
                    self.send_error(404)
                    return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Seldon-Puid", puid)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args) -> None:  # noqa: A002
                pass

        return Handler

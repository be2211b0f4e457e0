"""The sink's HTTP side: POST / takes one logger CloudEvent (answered as soon as it is stored,
so the executor's logger workers are never held), GET /stats counts what came and what was kept,
POST /export writes a version of every deployment now, GET /health/ping answers `pong`.
A background thread exports each deployment every `exportIntervalMinutes`."""

import json
import logging
import threading
import time
from collections import Counter
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from request_log.events import EventError, parse_event, sampled
from request_log.publish import export_deployment
from request_log.settings import SinkSettings
from request_log.store import JoinStore

logger = logging.getLogger(__name__)
MAX_EVENT_BYTES = 8 << 20
"""A logged payload above this is refused (the model server takes at most 1 MiB requests)."""


class Sink:
    """The join store, the per-deployment settings and the counters behind the handler."""

    def __init__(self, settings: SinkSettings) -> None:
        self.settings = settings
        self.store = JoinStore(settings.database)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._export_lock = threading.Lock()

    def receive(self, headers: dict[str, str], body: bytes) -> None:
        event = parse_event(headers, body)
        logging_settings = self.settings.deployments.get(event.key)
        if logging_settings is None:
            raise EventError(
                f"deployment {event.key!r} is not one this sink logs "
                f"({sorted(self.settings.deployments)})"
            )
        kept = sampled(event.joined_id(), logging_settings.sample_rate)
        if kept:
            self.store.add(event)
        with self._lock:
            self.counts[f"{event.key} {event.kind} {'kept' if kept else 'sampled_out'}"] += 1

    def export(self) -> dict:
        """Write a version of every declared deployment; one export at a time."""
        results = {}
        with self._export_lock:
            for key, logging_settings in self.settings.deployments.items():
                stamp, counts = export_deployment(
                    self.store, key, logging_settings, self.settings.destination
                )
                results[key] = {"version": stamp, **asdict(counts)}
                logger.info("exported %s version %s: %s", key, stamp, results[key])
        return results

    def export_forever(self, stop: threading.Event) -> None:
        """Export each deployment on its own interval until `stop` is set."""
        due = {key: time.monotonic() + s.export_interval_minutes * 60
               for key, s in self.settings.deployments.items()}  # fmt: skip
        while not stop.wait(5):
            for key, logging_settings in self.settings.deployments.items():
                if time.monotonic() < due[key]:
                    continue
                due[key] = time.monotonic() + logging_settings.export_interval_minutes * 60
                try:
                    with self._export_lock:
                        export_deployment(
                            self.store, key, logging_settings, self.settings.destination
                        )
                except Exception:  # the next interval retries; the rows stay in the store
                    logger.exception("export of %s failed", key)


def handler(sink: Sink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, document: object) -> None:
            body = json.dumps(document).encode() + b"\n"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/health/ping":
                self._answer(200, "pong")
            elif self.path == "/stats":
                with sink._lock:
                    self._answer(200, dict(sink.counts))
            else:
                self._answer(404, {"error": f"{self.path}: GET /stats or /health/ping"})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_EVENT_BYTES:
                self._answer(413, {"error": f"event of {length} bytes > {MAX_EVENT_BYTES}"})
                self.close_connection = True
                return
            body = self.rfile.read(length)
            if self.path == "/export":
                self._answer(200, sink.export())
                return
            if self.path != "/":
                self._answer(404, {"error": f"{self.path}: POST logger events to /"})
                return
            try:
                sink.receive({k.lower(): v for k, v in self.headers.items()}, body)
            except EventError as error:
                logger.warning("refused event: %s", error)
                self._answer(400, {"error": str(error)})
                return
            self._answer(200, {})

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            logger.debug(format, *args)

    return Handler


def serve(settings: SinkSettings) -> None:
    """Serve until SIGTERM/SIGINT; export every deployment once more before exiting."""
    sink = Sink(settings)
    server = ThreadingHTTPServer(("0.0.0.0", settings.port), handler(sink))  # noqa: S104
    server.daemon_threads = True
    stop = threading.Event()
    exporter = threading.Thread(target=sink.export_forever, args=(stop,), daemon=True)
    exporter.start()
    logger.info("request-log sink on :%d for %s", settings.port, sorted(settings.deployments))
    try:
        server.serve_forever()
    finally:
        stop.set()
        server.server_close()
        sink.export()

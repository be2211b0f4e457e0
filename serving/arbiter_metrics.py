"""Seldon's custom-metrics store and the metrics port, both inside the gunicorn arbiter.

seldon-core 1.19 keeps every worker's custom metrics in a `multiprocessing.Manager` dict
(seldon_core/metrics.py) and serves them from a second gunicorn. The Manager is a forked process
of its own: it is forked before the model is loaded and then holds, alone, copies of pages the
main process rewrites afterwards (measured ~90 MiB PSS, docs/sizing.md). Here the same Manager
server runs as a thread of the main process, which becomes the gunicorn arbiter; workers reach
it through the same proxies, and the metrics port reads it in-process.
"""

import atexit
import logging
import os
import threading
from collections.abc import Callable, Iterable
from multiprocessing.managers import SyncManager
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from seldon_core.metrics import SeldonMetrics

logger = logging.getLogger(__name__)

METRICS_SOCKET_TIMEOUT_S = 10


class ArbiterMetricsStore(SeldonMetrics):
    """SeldonMetrics whose shared store is served by a thread of this process."""

    def __init__(
        self,
        worker_id_func: Callable[[], Any] = os.getpid,
        extra_default_labels: dict[str, str] | None = None,
    ) -> None:
        server = SyncManager().get_server()
        threading.Thread(target=server.serve_forever, name="metrics-store", daemon=True).start()
        # At exit multiprocessing's finalizers decref every proxy through the server, which can
        # no longer start a thread to answer: closing its listener first makes them fail at once
        # instead of waiting forever (atexit runs this before multiprocessing's own hook).
        atexit.register(server.listener.close)
        self._manager = SyncManager(address=server.address)
        self._manager.connect()
        self._lock = self._manager.Lock()
        self.data = self._manager.dict()
        self.worker_id_func = worker_id_func
        self._extra_default_labels = extra_default_labels or {}

    def __del__(self) -> None:
        """The store's thread ends with the process; there is no Manager process to stop."""


class _MetricsServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """Scrapes are not logged (Seldon filters them too); a stalled client times out."""

    timeout = METRICS_SOCKET_TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


def serve_metrics(seldon_metrics: SeldonMetrics, port: int, path: str) -> None:
    """Answer GET `path` on `port` with every worker's metrics, from a daemon thread."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != path or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [f"metrics are served at GET {path}\n".encode()]
        text, content_type = seldon_metrics.generate_metrics()
        start_response("200 OK", [("Content-Type", content_type)])
        return [text.encode()]

    server = make_server(
        "0.0.0.0", port, app, server_class=_MetricsServer, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="metrics-port", daemon=True).start()
    logger.info("metrics on port %d at %s (in the arbiter)", port, path)

"""The main process: load the model once, fork the workers, serve the metrics port, supervise.

The model is resolved, verified and loaded here, and the objects that exist then are frozen out
of the garbage collector before the fork, so workers share those pages instead of copying them.
The REST socket is bound here and inherited: a worker that dies leaves no connection waiting in
a queue of its own. A worker that exits is replaced (its counters stay: serving/accounting.py);
when `CRASH_LOOP_DEATHS` workers have died within `CRASH_LOOP_S`, the server stops, so the pod
restarts and says why. (How soon after its start a worker dies says nothing: one killed from
outside, by the OOM killer say, right after a restart must be replaced, not end the server.)
SIGTERM stops the workers (each finishes what it has read) and then this process.
"""

import asyncio
import gc
import logging
import os
import shutil
import signal
import socket
import time
from collections import deque

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import mark_process_dead

from serving.accounting import ScrapeCollector
from serving.http_errors import ProtocolError
from serving.http_server import Request, Response, serve_http
from serving.model_server import ModelServer
from serving.settings import ServerSettings

logger = logging.getLogger(__name__)

CRASH_LOOP_DEATHS = 5
CRASH_LOOP_S = 10.0
STOP_WORKERS_S = 20.0


def run(metrics_dir: str) -> int:
    """Run the server; the process exit status."""
    settings = ServerSettings.from_env()
    logger.info("resolving MODEL_URI=%s", settings.model_uri)
    server = ModelServer(settings)
    rest_socket = socket.create_server(("0.0.0.0", settings.http_port), backlog=2048)
    rest_socket.setblocking(False)
    gc.collect()
    gc.freeze()
    try:
        return asyncio.run(Supervisor(server, rest_socket, metrics_dir).run())
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


class Supervisor:
    """Keeps `settings.workers` workers running and answers the metrics port."""

    def __init__(self, server: ModelServer, rest_socket: socket.socket, metrics_dir: str) -> None:
        self._server = server
        self._settings = server.settings
        self._rest_socket = rest_socket
        self._registry = CollectorRegistry()
        self._registry.register(
            ScrapeCollector(
                metrics_dir,
                server.artifact.feature_names,
                server.artifact.references,
                self._settings.drift_min_rows,
            )
        )
        self._workers: set[int] = set()
        self._deaths: deque[float] = deque(maxlen=CRASH_LOOP_DEATHS)
        self._stopping = False
        self._failed = False
        self._done = asyncio.Event()
        self._metrics = None

    async def run(self) -> int:
        settings = self._settings
        loop = asyncio.get_running_loop()
        self._metrics = await serve_http(
            self._scrape, settings.http, host="0.0.0.0", port=settings.metrics_port
        )
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self._stop)
        loop.add_signal_handler(signal.SIGCHLD, self._reap)
        for _ in range(settings.workers):
            self._spawn()
        logger.info(
            "%d workers: REST on %d, gRPC on %d; metrics on %d at %s",
            settings.workers,
            settings.http_port,
            settings.grpc_port,
            settings.metrics_port,
            settings.metrics_path,
        )
        await self._done.wait()
        logger.info("server stopped")
        return 1 if self._failed else 0

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            from serving.worker import run_worker  # grpc is imported after the fork only

            for listener in self._metrics.sockets:
                os.close(listener.fileno())
            os._exit(run_worker(self._server, self._rest_socket))
        self._workers.add(pid)

    def _reap(self) -> None:
        while self._workers:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            if pid not in self._workers:
                continue
            self._workers.discard(pid)
            mark_process_dead(pid)
            self._deaths.append(time.monotonic())
            if self._stopping:
                logger.info("worker %d exited", pid)
            elif self._crash_loop():
                logger.error(
                    "worker %d died (%s), the %dth death within %.0f s; stopping",
                    pid, _describe(status), CRASH_LOOP_DEATHS, CRASH_LOOP_S,
                )  # fmt: skip
                self._failed = True
                self._stop()
            else:
                logger.warning("worker %d died (%s); starting another", pid, _describe(status))
                self._spawn()
        if self._stopping and not self._workers:
            self._done.set()

    def _crash_loop(self) -> bool:
        deaths = self._deaths
        return len(deaths) == CRASH_LOOP_DEATHS and deaths[-1] - deaths[0] < CRASH_LOOP_S

    def _stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        logger.info("stopping %d workers", len(self._workers))
        self._metrics.close()
        for pid in self._workers:
            os.kill(pid, signal.SIGTERM)
        asyncio.get_running_loop().call_later(STOP_WORKERS_S, self._kill_workers)
        if not self._workers:
            self._done.set()

    def _kill_workers(self) -> None:
        for pid in self._workers:
            logger.error("worker %d did not stop within %.0f s; killing it", pid, STOP_WORKERS_S)
            os.kill(pid, signal.SIGKILL)

    def _scrape(self, request: Request) -> Response:
        if request.path != self._settings.metrics_path:
            raise ProtocolError(404, f"metrics are served at GET {self._settings.metrics_path}")
        if request.method not in ("GET", "HEAD"):
            raise ProtocolError(405, f"metrics are served at GET {self._settings.metrics_path}")
        return Response(200, generate_latest(self._registry), CONTENT_TYPE_LATEST)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"

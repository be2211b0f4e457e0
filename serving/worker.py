"""One worker process: REST and gRPC in a single asyncio loop, until SIGTERM or orphaned.

Forked by the supervisor with the model already loaded; it shares the REST listening socket
with its siblings and binds the gRPC port beside them (SO_REUSEPORT). Predictions run in the loop
itself: one row takes a fraction of a millisecond, and no thread hand-off is cheaper than that.
"""

import asyncio
import logging
import os
import signal
import socket

from serving.grpc_api import start_grpc
from serving.http_server import serve_http
from serving.model_server import ModelServer
from serving.rest_api import RestApi

logger = logging.getLogger(__name__)

GRPC_GRACE_S = 5.0
ORPHAN_CHECK_S = 1.0


def run_worker(server: ModelServer, rest_socket: socket.socket) -> int:
    """Serve until told to stop; the exit status for `os._exit`."""
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(number, signal.SIG_DFL)
    try:
        asyncio.run(_serve(server, rest_socket, os.getppid()))
    except Exception:
        logger.exception("worker %d failed", os.getpid())
        return 1
    return 0


async def _serve(server: ModelServer, rest_socket: socket.socket, parent: int) -> None:
    server.start_accounting()
    http = await serve_http(RestApi(server), server.settings.http, sock=rest_socket)
    grpc_server = await start_grpc(server, server.settings.grpc_port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    logger.info("worker %d serving", os.getpid())
    while not stop.is_set() and os.getppid() == parent:
        try:
            await asyncio.wait_for(stop.wait(), ORPHAN_CHECK_S)
        except TimeoutError:
            pass
    http.close()
    await grpc_server.stop(GRPC_GRACE_S)
    logger.info("worker %d stopped", os.getpid())

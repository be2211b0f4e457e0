"""SIGTERM ends the whole server within seconds, gRPC child included.

seldon-core 1.19 (`seldon_core/microservice.py`, `start_servers`) forks from the main process a
gRPC process (not a daemon; it joins its gRPC worker processes, which sleep until interrupted)
and a metrics process (a daemon), then runs gunicorn in the main process. Kubernetes signals only
the main process. Gunicorn's arbiter handles SIGTERM: it closes its sockets, lets its workers
finish the requests they hold and exits; multiprocessing's exit hook then joins the gRPC process,
which never ends on its own, so the container would wait for SIGKILL at the end of the grace
period. Here, the main process's exit first terminates its multiprocessing children, and every
forked process inherits a SIGTERM handler that passes the signal to its own children and exits.
"""

import atexit
import multiprocessing
import os
import signal
from types import FrameType


def stop_children_on_exit() -> None:
    """Install in the main process before Seldon forks its servers (from the model's __init__)."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # atexit runs last-in first-out: this runs before multiprocessing's hook joins the children.
    atexit.register(_terminate_children, os.getpid())


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    _terminate_children(os.getpid())
    raise SystemExit(128 + signum)


def _terminate_children(owner: int) -> None:
    # Gunicorn forks its workers with os.fork, so they inherit this hook and the parent's list
    # of multiprocessing children: only the process that registered it may act on that list.
    if os.getpid() != owner:
        return
    for child in multiprocessing.active_children():
        child.terminate()

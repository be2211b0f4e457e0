"""The server's processes: one gunicorn arbiter, its HTTP workers, and nothing else that idles.

seldon-core 1.19's `microservice.main` (seldon_core/microservice.py) starts, beside the gunicorn
REST arbiter and its workers, a gRPC parent process with `GRPC_WORKERS` children that each load
the model again, and a second gunicorn (arbiter + worker) for the metrics port. Measured with
`localrun.memory`, that is eight processes and most of the pod's memory (docs/sizing.md).

`install()` runs when Seldon imports the model class, before `main()` builds its servers, and
replaces the three server factories `main()` looks up in its module:
- REST: gunicorn with `HeadFirstThreadWorker` (slow clients cannot hold a thread), a worker
  timeout in seconds instead of Seldon's 5000, the app and model preloaded in the arbiter and
  its objects frozen out of the garbage collector before the fork, so the workers share those
  pages instead of copying them;
- gRPC: served from every HTTP worker on the same port (SO_REUSEPORT) rather than by separate
  processes; client errors answer INVALID_ARGUMENT with the REST message (`grpc_server`);
- metrics: a small threaded HTTP server inside the arbiter, reading the same shared
  SeldonMetrics store that Seldon's metrics app reads.
"""

import argparse
import gc
import logging
import os
from collections.abc import Callable
from functools import partial
from typing import Any

from seldon_core import microservice
from seldon_core import wrapper as seldon_wrapper
from seldon_core.flask_utils import ANNOTATION_REST_TIMEOUT
from seldon_core.gunicorn_utils import (
    UserModelApplication,
    accesslog,
    post_worker_init,
    worker_exit,
)
from seldon_core.metrics import SeldonMetrics

from serving.arbiter_metrics import ArbiterMetricsStore, serve_metrics
from serving.grpc_server import start_grpc_server
from serving.http_worker import HeadFirstThreadWorker

logger = logging.getLogger(__name__)

WORKER_CLASS = f"{HeadFirstThreadWorker.__module__}.{HeadFirstThreadWorker.__name__}"
WORKER_TIMEOUT_ENV = "GUNICORN_TIMEOUT"
HEADER_TIMEOUT_ENV = "HTTP_HEADER_TIMEOUT_SECONDS"
BODY_TIMEOUT_ENV = "HTTP_BODY_TIMEOUT_SECONDS"
DEFAULT_WORKER_TIMEOUT_S = 30
GRACEFUL_TIMEOUT_S = 20


def install() -> None:
    """Make Seldon's `main()` build this process model; idempotent."""
    microservice.SeldonMetrics = ArbiterMetricsStore
    microservice._make_rest_server_prod = _rest_server
    microservice._make_grpc_server = _no_separate_process
    microservice._make_rest_metrics_server = _no_separate_process


def _no_separate_process(*_args: Any, **_kwargs: Any) -> None:
    """Seldon starts no process for a factory that returns None (`start_servers`)."""
    return None


def _seconds(name: str, default: float) -> float:
    """A number of seconds > 0 from the environment, or an error naming the variable."""
    raw = os.environ.get(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ValueError(f"{name}={raw!r}: expected a number of seconds > 0")
    return value


def _worker_timeout(annotations: dict[str, str]) -> int:
    """Seconds a worker may spend on one request before gunicorn replaces it.

    Seldon's `seldon.io/rest-timeout` annotation (milliseconds) still wins when set.
    """
    if ANNOTATION_REST_TIMEOUT in annotations:
        return max(1, int(annotations[ANNOTATION_REST_TIMEOUT]) // 1000)
    return max(1, round(_seconds(WORKER_TIMEOUT_ENV, DEFAULT_WORKER_TIMEOUT_S)))


def _rest_server(
    user_object: Any,
    seldon_metrics: SeldonMetrics,
    args: argparse.Namespace,
    jaeger_extra_tags: list[str],
    annotations: dict[str, str],
) -> Callable[[], None]:
    """Seldon's REST factory signature; the returned callable runs the gunicorn arbiter."""
    HeadFirstThreadWorker.header_timeout_s = _seconds(
        HEADER_TIMEOUT_ENV, HeadFirstThreadWorker.header_timeout_s
    )
    HeadFirstThreadWorker.body_timeout_s = _seconds(
        BODY_TIMEOUT_ENV, HeadFirstThreadWorker.body_timeout_s
    )
    options = {
        "bind": f"0.0.0.0:{args.http_port}",
        "accesslog": accesslog(args.access_log),
        "loglevel": args.log_level.lower(),
        "worker_class": WORKER_CLASS,
        "threads": args.threads,
        "workers": args.workers,
        "timeout": _worker_timeout(annotations),
        "graceful_timeout": GRACEFUL_TIMEOUT_S,
        "keepalive": args.keepalive,
        "max_requests": args.max_requests,
        "max_requests_jitter": args.max_requests_jitter,
        "preload_app": True,
        "when_ready": partial(_arbiter_ready, seldon_metrics, args.metrics_port),
        "post_worker_init": partial(_worker_ready, user_object, seldon_metrics, args),
        "worker_exit": partial(worker_exit, seldon_metrics=seldon_metrics),
        "pidfile": args.pidfile,
    }
    logger.info("gunicorn options: %s", options)

    def server() -> None:
        app = seldon_wrapper.get_rest_microservice(user_object, seldon_metrics)
        UserModelApplication(
            app, user_object, args.tracing, jaeger_extra_tags, args.interface_name, options=options
        ).run()

    return server


def _arbiter_ready(seldon_metrics: SeldonMetrics, metrics_port: int, _arbiter: Any) -> None:
    """In the arbiter, after preloading and before the first fork."""
    serve_metrics(seldon_metrics, metrics_port, seldon_wrapper.METRICS_ENDPOINT)
    # Objects that exist now are never collected in the workers, so the collector's passes do
    # not write to (and un-share) every page they sit on.
    gc.collect()
    gc.freeze()


def _worker_ready(
    user_object: Any, seldon_metrics: SeldonMetrics, args: argparse.Namespace, worker: Any
) -> None:
    """In each HTTP worker, once its app is loaded: Seldon's hook, then the gRPC port."""
    post_worker_init(worker)
    if args.grpc_workers > 0:
        # Held by the worker: grpcio stops a server once it is garbage collected.
        worker.grpc_server = start_grpc_server(
            user_object, seldon_metrics, args.grpc_port, args.grpc_threads
        )

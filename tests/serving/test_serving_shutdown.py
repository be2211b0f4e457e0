"""SIGTERM to the main process alone (what the kubelet sends) ends the whole process group, the
workers included, in seconds: while the model downloads, while it loads, and while
serving."""

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from localrun.server_process import ModelServerProcess
from tests.serving.serving_helpers import group_members, sigterm_main_and_wait

# Well inside Kubernetes' default 30 s grace period, on a loaded 2-core machine.
EXIT_WITHIN_S = 20


@pytest.fixture
def server_factory() -> Iterator[Any]:
    started: list[ModelServerProcess] = []

    def make(model_uri: str, env: dict[str, str]) -> ModelServerProcess:
        server = ModelServerProcess(model_uri, env=env)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def wait_while_starting(
    server: ModelServerProcess, process: Any, started: Callable[[], bool]
) -> None:
    """Poll until `started()` holds; the server must not have exited meanwhile."""
    while not started():
        assert process.poll() is None, server.log_tail()
        time.sleep(0.05)


def test_sigterm_while_the_model_downloads(server_factory: Any) -> None:
    with socket.socket() as hung_registry:
        hung_registry.bind(("127.0.0.1", 0))
        hung_registry.listen(4)
        uri = f"http://127.0.0.1:{hung_registry.getsockname()[1]}"
        server = server_factory("models:/iris/1", {"MLFLOW_TRACKING_URI": uri})
        process = server.spawn()
        wait_while_starting(
            server, process, lambda: "resolving MODEL_URI=" in server.log_path.read_text()
        )

        left = sigterm_main_and_wait(process, EXIT_WITHIN_S)

    assert left == [], server.log_tail()


def test_sigterm_while_the_model_loads(server_factory: Any, trained_model: dict[str, Any]) -> None:
    server = server_factory(trained_model["local_model_dir"], {})
    process = server.spawn()
    # Logged once the artifact is checked, just before the supervisor loads the model and forks.
    wait_while_starting(
        server, process, lambda: "version local from" in server.log_path.read_text()
    )

    left = sigterm_main_and_wait(process, EXIT_WITHIN_S)

    assert left == [], server.log_tail()


def test_sigterm_while_serving(server_factory: Any, trained_model: dict[str, Any]) -> None:
    server = server_factory(trained_model["local_model_dir"], {})
    server.start()
    process = server._process
    assert len(group_members(process.pid)) == int(server.env["SERVER_WORKERS"]) + 1

    left = sigterm_main_and_wait(process, EXIT_WITHIN_S)

    assert left == [], server.log_tail()
    assert "server stopped" in server.log_path.read_text()

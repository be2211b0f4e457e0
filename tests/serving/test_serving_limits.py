"""Bodies above MAX_REQUEST_BYTES answer 413 before they are read, and the server keeps serving."""

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from localrun.server_process import ModelServerProcess
from tests.serving.serving_helpers import predict

LIMIT = 64 * 1024
ROW = [5.1, 3.5, 1.4, 0.2]


@pytest.fixture(scope="module")
def limited_server(trained_model: dict[str, str]) -> Iterator[ModelServerProcess]:
    env = {"MAX_REQUEST_BYTES": str(LIMIT), "SERVER_WORKERS": "1", "HTTP_MAX_CONNECTIONS": "8"}
    with ModelServerProcess(trained_model["local_model_dir"], env=env) as server:
        yield server


def oversized_chunks(total: int, chunk: int = 16 * 1024) -> Iterator[bytes]:
    """A JSON-looking body sent with Transfer-Encoding: chunked (no Content-Length)."""
    yield b'{"data": {"ndarray": ['
    sent = 0
    while sent < total:
        yield b"[5.1, 3.5, 1.4, 0.2], " * (chunk // 22)
        sent += chunk
    yield b"[5.1, 3.5, 1.4, 0.2]]}}"


def assert_413(response: requests.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.json()["status"]["status"] == 1


def test_declared_length_above_the_limit_is_413_naming_the_limit(
    limited_server: ModelServerProcess,
) -> None:
    body = b'{"data": {"ndarray": [' + b"[5.1, 3.5, 1.4, 0.2], " * 200_000 + b"[1, 2, 3, 4]]}}"
    assert len(body) > 4_000_000

    response = requests.post(
        f"{limited_server.url}/api/v1.0/predictions",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )

    assert_413(response)
    assert f"exceeds the limit of {LIMIT} bytes (MAX_REQUEST_BYTES)" in response.text


def test_chunked_body_above_the_limit_is_413(limited_server: ModelServerProcess) -> None:
    response = requests.post(
        f"{limited_server.url}/api/v1.0/predictions",
        data=oversized_chunks(4 * LIMIT),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )

    assert_413(response)


def test_body_under_the_limit_is_answered_and_server_stays_healthy(
    limited_server: ModelServerProcess,
) -> None:
    rows = [ROW] * 500  # about 11 kB
    for _ in range(2):
        requests.post(
            f"{limited_server.url}/api/v1.0/predictions",
            data=b"x" * (2 * LIMIT),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )

    response = predict(limited_server, {"data": {"ndarray": rows}})

    assert response.status_code == 200, response.text
    assert len(response.json()["data"]["ndarray"]) == 500
    assert requests.get(f"{limited_server.url}/health/status", timeout=10).status_code == 200


def test_connections_above_the_limit_are_answered_503_and_closed(
    limited_server: ModelServerProcess,
) -> None:
    """HTTP_MAX_CONNECTIONS bounds what idle clients can hold; the ninth is refused at once."""
    idle = [socket.create_connection(("127.0.0.1", limited_server.http_port)) for _ in range(8)]
    try:
        time.sleep(0.5)
        with socket.create_connection(("127.0.0.1", limited_server.http_port), timeout=10) as extra:
            refused = extra.recv(4096)
    finally:
        for connection in idle:
            connection.close()
    time.sleep(0.5)

    assert refused.startswith(b"HTTP/1.1 503 "), refused
    assert b"HTTP_MAX_CONNECTIONS" in refused
    assert predict(limited_server, {"data": {"ndarray": [ROW]}}).status_code == 200

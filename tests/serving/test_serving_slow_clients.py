"""Clients that send their headers byte by byte do not stop the server answering others.

With gunicorn's sync workers, two such clients held both workers. Here more slow clients than
there are workers trickle their headers while a normal client is served; bounded waits only, no
assertion on speed (performance belongs to `make bench`).
"""

import socket
import threading
import time

import requests
from serving_helpers import predict

from localrun.server_process import ModelServerProcess

SLOW_CLIENTS = 6  # three times the image's two HTTP workers
HEADERS = (
    b"POST /api/v1.0/predictions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
)
ROW = [5.1, 3.5, 1.4, 0.2]


def trickle(port: int, stop: threading.Event, sent: list[int]) -> None:
    """Send the request headers one byte at a time until told to stop (or the server hangs up
    once its header timeout has passed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
        for byte in HEADERS:
            if stop.is_set():
                return
            try:
                slow.send(bytes([byte]))
            except OSError:
                return
            sent.append(1)
            time.sleep(0.2)


def test_fast_client_is_answered_while_slow_clients_trickle_headers(
    registry_server: ModelServerProcess,
) -> None:
    stop = threading.Event()
    sent: list[int] = []
    slow = [
        threading.Thread(target=trickle, args=(registry_server.http_port, stop, sent), daemon=True)
        for _ in range(SLOW_CLIENTS)
    ]
    for thread in slow:
        thread.start()
    try:
        time.sleep(1.0)  # every slow client is connected and mid-headers
        answers = [predict(registry_server, {"data": {"ndarray": [ROW]}}) for _ in range(10)]
        status = requests.get(f"{registry_server.url}/health/status", timeout=10)
        still_trickling = all(thread.is_alive() for thread in slow)
    finally:
        stop.set()
        for thread in slow:
            thread.join(timeout=10)

    assert still_trickling, "a slow client finished or was cut off before the fast requests"
    assert len(sent) >= SLOW_CLIENTS
    assert [answer.status_code for answer in answers] == [200] * 10
    assert status.status_code == 200


def test_a_client_that_never_finishes_its_headers_is_disconnected(
    registry_server: ModelServerProcess,
) -> None:
    """HTTP_HEADER_TIMEOUT_SECONDS (image default 10 s) bounds a header that never ends."""
    with socket.create_connection(("127.0.0.1", registry_server.http_port), timeout=60) as slow:
        slow.sendall(HEADERS[:20])
        closed_by_server = slow.recv(1024) == b""  # blocks until the server hangs up

    assert closed_by_server

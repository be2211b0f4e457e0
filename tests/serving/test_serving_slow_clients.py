"""Clients that send their headers byte by byte do not stop the server answering others.

With gunicorn's sync workers, two such clients held both workers. Here more slow clients than
there are workers trickle their headers while a normal client is served; bounded waits only, no
assertion on speed (performance belongs to `make bench`).
"""

import socket
import threading
import time

import requests

from localrun.server_process import ModelServerProcess
from tests.serving.serving_helpers import predict

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


BODY = b'{"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}'
PREDICTION = (
    b"POST /api/v1.0/predictions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)
ATTACK_S = 12.0


def slow_bodies(port: int, stop: threading.Event, count: int = 8) -> None:
    """Headers at once, then one body byte every 8 s (a per-byte timeout never fires)."""
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    for slow in sockets:
        slow.sendall(HEADERS + b"Content-Length: 1000\r\n\r\n")
    while not stop.wait(8):
        for slow in sockets:
            try:
                slow.send(b" ")
            except OSError:
                pass
    for slow in sockets:
        slow.close()


def header_drippers(port: int, stop: threading.Event, count: int = 300) -> None:
    """Many connections, each sending one more header byte every second."""
    sockets = []
    for _ in range(count):
        try:
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            pass
    position = 0
    while not stop.wait(1):
        for dripper in sockets:
            try:
                dripper.send(HEADERS[position % len(HEADERS) : position % len(HEADERS) + 1])
            except OSError:
                pass
        position += 1
    for dripper in sockets:
        dripper.close()


def pipeliner(port: int, stop: threading.Event) -> None:
    """Pipelines predictions as fast as the server takes them and never reads an answer."""
    with socket.create_connection(("127.0.0.1", port)) as greedy:
        greedy.settimeout(0.5)
        while not stop.is_set():
            try:
                greedy.sendall(PREDICTION * 100)
            except TimeoutError:
                continue  # the server stopped reading us: that is the point
            except OSError:
                return


def test_good_requests_are_answered_within_a_second_under_every_slow_client_at_once(
    registry_server: ModelServerProcess,
) -> None:
    port = registry_server.http_port
    stop = threading.Event()
    attackers = [
        threading.Thread(target=slow_bodies, args=(port, stop), daemon=True),
        threading.Thread(target=header_drippers, args=(port, stop), daemon=True),
        *(threading.Thread(target=pipeliner, args=(port, stop), daemon=True) for _ in range(8)),
    ]
    for attacker in attackers:
        attacker.start()
    latencies = []
    try:
        time.sleep(2.0)  # every attacker is connected and stalling
        deadline = time.monotonic() + ATTACK_S
        while time.monotonic() < deadline:
            started = time.monotonic()
            answer = predict(registry_server, {"data": {"ndarray": [ROW]}})
            latencies.append(time.monotonic() - started)
            assert answer.status_code == 200, answer.text
            time.sleep(0.2)
    finally:
        stop.set()
        for attacker in attackers:
            attacker.join(timeout=15)

    assert len(latencies) >= 20
    assert max(latencies) < 1.0, sorted(latencies)[-5:]

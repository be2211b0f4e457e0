"""Calling MLflow routes as one identity of the real server (`mlflow_server`), many at once.

Each request is independent (an empty JSON body, no state read back), so a pool of clients
sends them concurrently: the server authenticates every request with a password hash (MLflow's
credential cache is off, as deployed), which costs tens of milliseconds each, and one client
at a time left the server's second core idle and paid a new connection per request."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import requests

from infra.mlflow.auth import AUTH_APP_SCRIPT

sys.path.insert(0, str(AUTH_APP_SCRIPT.parent))
from mlflow_platform_auth import DENIED_PREFIX  # noqa: E402

CLIENTS = 8
"""Concurrent connections: enough to keep both the server's event loop and its WSGI threads
busy while others wait on the network."""
_sessions = threading.local()


def _session() -> requests.Session:
    if not hasattr(_sessions, "session"):
        _sessions.session = requests.Session()
    return _sessions.session


def call(server, role: str | None, method: str, path: str) -> requests.Response:
    login = server.logins[role] if role else None
    return _session().request(
        method,
        f"{server.url}{path}",
        json={},
        auth=(login.username, login.password) if login else None,
        timeout=60,
    )


def platform_denied(response: requests.Response) -> bool:
    return response.status_code == 403 and response.text.startswith(DENIED_PREFIX)


def outcomes(
    server, role: str | None, routes: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], requests.Response]:
    """Route -> response, every route called once as `role` (None: anonymous)."""
    routes = list(routes)
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        responses = pool.map(lambda route: call(server, role, *route), routes)
        return dict(zip(routes, responses, strict=True))

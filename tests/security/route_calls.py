"""Calling MLflow routes as one identity of the real server (`mlflow_server`), many at once.

Each request is independent (an empty JSON body, no state read back), so a pool of keep-alive
clients sends them concurrently. What each request costs is the server's CPU. Before the
platform turned on MLflow's credential cache (`auth_cache_ttl_seconds`, `infra/mlflow/auth.py`),
MLflow hashed the password several times per request (mlflow 3.17.2 `auth/__init__.py`
`sender_is_admin` authenticates again): on a loaded 2-core machine (load 13) 60 routes took
28.5 s one at a time vs 24.1 s from the pool as serving, 87.5 s vs 84.0 s as the admin."""

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
"""Concurrent connections, more than the machine's cores, so the server always has one queued."""
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

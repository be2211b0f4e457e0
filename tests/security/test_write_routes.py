"""Every write route of the installed MLflow, called as every identity on the real server set up
as the deploy sets it up (`mlflow_server`: `--app-name platform-auth`, the access script's users).

A refusal by the platform's rules starts with `DENIED_PREFIX`, so each row tells whether the
platform or MLflow's own checks decided."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable

import pytest
import requests

from infra.mlflow.auth import AUTH_APP_SCRIPT
from tests.security.mlflow_routes import user_read_routes, write_routes

sys.path.insert(0, str(AUTH_APP_SCRIPT.parent))
from mlflow_platform_auth import DENIED_PREFIX  # noqa: E402

ADMIN_ONLY_WORDS = re.compile(r"/(delete|rename|restore)$|/permissions|/users/|/roles|/demo/")
"""What no release user may do, whatever MLflow's ownership says: delete, rename, grant."""
RELEASE_FAMILIES = re.compile(
    r"/(?:ajax-)?api/\d\.\d/(mlflow/(experiments|runs|logged-models|registered-models|"
    r"model-versions)(/|$)|mlflow-artifacts/|mlflow/upload-artifact)"
)
RELEASE_PATH_ROUTES = (
    ("POST", "/api/2.0/mlflow/experiments/create"),
    ("POST", "/api/2.0/mlflow/experiments/set-experiment-tag"),
    ("POST", "/api/2.0/mlflow/runs/create"),
    ("POST", "/api/2.0/mlflow/runs/update"),
    ("POST", "/api/2.0/mlflow/runs/log-batch"),
    ("POST", "/api/2.0/mlflow/runs/set-tag"),
    ("POST", "/api/2.0/mlflow/logged-models"),
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/x"),
    ("POST", "/api/2.0/mlflow/registered-models/create"),
    ("POST", "/api/2.0/mlflow/model-versions/create"),
    ("POST", "/api/2.0/mlflow/model-versions/set-tag"),
    ("POST", "/api/2.0/mlflow/registered-models/alias"),
)
"""The writes `python -m model train/promote/rollback` make (MlflowClient's REST routes)."""
HEAVY_FOR_ADMIN = re.compile(r"/demo/|/assistant/|/gateway/|/mcp-servers")
"""Routes an admin's empty request would make the server do real work (generate demo data,
call an LLM or a provider): left out of the admin's row, which only shows the rules pass
admins through."""


def call(server, role: str | None, method: str, path: str) -> requests.Response:
    login = server.logins[role] if role else None
    return requests.request(
        method,
        f"{server.url}{path}",
        json={},
        auth=(login.username, login.password) if login else None,
        timeout=30,
    )


def platform_denied(response: requests.Response) -> bool:
    return response.status_code == 403 and response.text.startswith(DENIED_PREFIX)


def outcomes(server, role: str | None, routes: Iterable[tuple[str, str]]) -> dict:
    return {(method, path): call(server, role, method, path) for method, path in routes}


def test_the_route_list_is_mlflows_whole_write_surface() -> None:
    routes = write_routes()
    assert len(routes) > 300, len(routes)
    for expected in [*RELEASE_PATH_ROUTES, ("DELETE", "/api/2.0/mlflow/registered-models/delete")]:
        assert expected in routes


def test_anonymous_gets_401_on_every_write_route(mlflow_server) -> None:
    wrong = {
        route: response.status_code
        for route, response in outcomes(mlflow_server, None, write_routes()).items()
        if response.status_code != 401
    }
    assert wrong == {}


def test_serving_is_refused_every_write_route_by_the_platform(mlflow_server) -> None:
    """Refused everything but the POSTs that only search."""
    passed = {
        route
        for route, response in outcomes(mlflow_server, "serving", write_routes()).items()
        if not platform_denied(response)
    }
    assert {path.rsplit("/", 1)[-1] for _, path in passed} <= {"search"}, passed


def test_pipeline_writes_only_the_release_path_and_never_deletes_or_grants(mlflow_server) -> None:
    results = outcomes(mlflow_server, "pipeline", write_routes())
    not_denied = {route for route, response in results.items() if not platform_denied(response)}
    admin_only = {route for route in results if ADMIN_ONLY_WORDS.search(route[1])}
    assert not_denied & admin_only == set()
    assert {route for route in not_denied if not RELEASE_FAMILIES.match(route[1])} == set()
    assert set(RELEASE_PATH_ROUTES) <= not_denied
    assert all(results[route].status_code != 401 for route in results)


def test_admin_passes_the_platform_rules(mlflow_server) -> None:
    routes = [route for route in write_routes() if not HEAVY_FOR_ADMIN.search(route[1])]
    wrong = {
        route: response.status_code
        for route, response in outcomes(mlflow_server, "admin", routes).items()
        if platform_denied(response) or response.status_code == 401
    }
    assert wrong == {}


@pytest.mark.parametrize("role", ["serving", "pipeline"])
def test_only_an_admin_lists_users_and_their_grants(mlflow_server, role) -> None:
    for method, path in user_read_routes():
        response = call(mlflow_server, role, method, f"{path}?username=platform-admin")
        assert platform_denied(response), (path, response.status_code)
    own = call(mlflow_server, role, "GET", "/api/2.0/mlflow/users/current")
    assert own.status_code == 200


def test_an_admin_still_lists_users(mlflow_server) -> None:
    response = call(mlflow_server, "admin", "GET", "/api/2.0/mlflow/users/list")
    assert response.status_code == 200
    assert "platform-serving" in response.text

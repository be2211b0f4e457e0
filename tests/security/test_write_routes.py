"""Every write route of the installed MLflow, called as every identity on the real server set up
as the deploy sets it up (`mlflow_server`: `--app-name platform-auth`, the access script's users).

A refusal by the platform's rules starts with `DENIED_PREFIX`, so each row tells whether the
platform or MLflow's own checks decided. The admin's row is in test_write_routes_admin.py (a file
of its own, so xdist's `--dist loadfile` can run it beside this one)."""

from __future__ import annotations

import re

import pytest

from tests.security.mlflow_routes import user_read_routes, write_routes
from tests.security.route_calls import call, outcomes, platform_denied

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


@pytest.mark.parametrize("role", ["serving", "reader"])
def test_serving_is_refused_every_write_route_by_the_platform(mlflow_server, role) -> None:
    """The serving and the reader users are refused everything but the POSTs that only search
    (which the serving user is refused too, by the served-versions rule)."""
    passed = {
        route
        for route, response in outcomes(mlflow_server, role, write_routes()).items()
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

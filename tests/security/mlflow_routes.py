"""Every write route the MLflow server at the installed version serves, read from MLflow itself:
the tracking server's Flask rules, the auth app's user and role routes, and the routes FastAPI
serves natively (artifacts, gateway, assistant, MCP servers)."""

from __future__ import annotations

import re
from functools import cache

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PARAMETER = re.compile(r"<(?:[a-z]+:)?[a-z_]+>|\{[a-z_]+(?::path)?\}")


def concrete(path: str) -> str:
    """A callable path: every `<param>` / `{param}` replaced by a placeholder segment."""
    return _PARAMETER.sub("x", path)


@cache
def write_routes() -> tuple[tuple[str, str], ...]:
    """(method, path) of every write route, sorted, each once."""
    from mlflow.server import app, auth
    from mlflow.server.auth import routes
    from mlflow.server.fastapi_app import create_fastapi_app

    found = {
        (method, concrete(rule.rule))
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method in WRITE_METHODS
    }
    # Registered by mlflow.server.auth.create_app (mlflow 3.17.2 auth/__init__.py create_app).
    user_routes = {
        "POST": (routes.CREATE_USER, routes.AJAX_CREATE_USER, routes.CREATE_USER_UI),
        "PATCH": (
            routes.UPDATE_USER_PASSWORD, routes.AJAX_UPDATE_USER_PASSWORD,
            routes.UPDATE_USER_ADMIN, routes.AJAX_UPDATE_USER_ADMIN,
        ),
        "DELETE": (routes.DELETE_USER, routes.AJAX_DELETE_USER),
    }  # fmt: skip
    found |= {(method, path) for method, paths in user_routes.items() for path in paths}
    found |= {
        (method, path)
        for _, method, rest, ajax in auth._RBAC_ROUTES
        if method in WRITE_METHODS
        for path in (rest, ajax)
    }
    for path, operations in create_fastapi_app(app).openapi()["paths"].items():
        found |= {(m.upper(), concrete(path)) for m in operations if m.upper() in WRITE_METHODS}
    return tuple(sorted(found, key=lambda route: (route[1], route[0])))


def user_read_routes() -> tuple[tuple[str, str], ...]:
    """The auth app's read routes that reveal other users and their grants."""
    from mlflow.server.auth import routes

    return tuple(
        ("GET", path)
        for path in (
            routes.LIST_USERS, routes.AJAX_LIST_USERS, routes.GET_USER, routes.AJAX_GET_USER,
            routes.LIST_USER_PERMISSIONS, routes.AJAX_LIST_USER_PERMISSIONS,
            routes.GET_USER_PERMISSION,
        )
    )  # fmt: skip

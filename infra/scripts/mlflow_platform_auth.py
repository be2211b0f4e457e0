"""`mlflow server --app-name platform-auth`: MLflow's basic-auth app plus the platform's rules.

MLflow alone cannot hold the platform's least privilege: its auth app makes the creator of an
experiment or registered model its MANAGE owner (mlflow 3.17.2 `mlflow/server/auth/__init__.py`
`set_can_manage_experiment_permission`, `set_can_manage_registered_model_permission`), lets any
logged-in user create both while workspaces are off, and lets a MANAGE owner delete, rename and
re-grant. So a read-only user could create (and own) a model nobody had registered yet, and the
pipeline user owns, and may delete, every model it trains. These rules run after MLflow's own
checks (which still apply) and refuse, for every user but an admin:

- any write by a user that is not a release user (`MLFLOW_PLATFORM_RELEASE_USERS`): every
  method but GET/HEAD/OPTIONS, except POSTs that only search;
- a release user's writes outside what the release path uses (experiments, runs, logged
  models, registered models, versions, artifacts): no gateway, prompts, webhooks, traces...;
- deleting or renaming anything, deleting artifacts, and every user, role, grant and demo-data
  route (`/users/current` excepted), even for a release user;
- for a serving user (`MLFLOW_PLATFORM_SERVING_USERS`, the login every model pod holds), every
  read but those of the versions in the served-versions list (`served_versions.py`): MLflow
  grants READ per registered model, which would let it read every version of a served model;
- for a request-log user (`MLFLOW_PLATFORM_REQUEST_LOG_USERS`, the login of the request-log
  sinks), everything but its uploads, listings and expiries under `0/request-logs/`, and for
  every user an upload over a file that exists, but a deployment's newest request-log export
  (`artifact_writes.py`);
- for a scoring user (`MLFLOW_PLATFORM_SCORING_USERS`, the login of the batch-scoring
  CronJobs), everything but the serving user's reads, reads under `0/scoring/` and new files in
  the declared scoring outputs (`artifact_writes.py`).

Loaded by MLflow from the `mlflow.app` entry point this file's package declares
(`infra.mlflow_auth.auth_app_files`). Imports only MLflow and the standard library, so it runs
in MLflow's own image.
"""

from __future__ import annotations

import json
import os
import re

from artifact_writes import overwrite_denial, request_log_denial, scoring_denial
from flask import Flask, Response, g, request
from mlflow.server import app as mlflow_app
from mlflow.server.auth import (
    _authenticate_fastapi_request,
    is_unprotected_route,
    sender_is_admin,
)
from mlflow.server.auth import (
    create_app as create_basic_auth_app,
)
from mlflow.server.handlers import STATIC_PREFIX_ENV_VAR
from served_versions import REGISTERED_MODEL_GET, ServedVersions, serving_denial

RELEASE_USERS_ENV = "MLFLOW_PLATFORM_RELEASE_USERS"
SERVING_USERS_ENV = "MLFLOW_PLATFORM_SERVING_USERS"
REQUEST_LOG_USERS_ENV = "MLFLOW_PLATFORM_REQUEST_LOG_USERS"
SCORING_USERS_ENV = "MLFLOW_PLATFORM_SCORING_USERS"
DENIED_PREFIX = "Permission denied by platform policy: "
"""Start of every refusal's body, so a caller (and a test) can tell it from MLflow's own 403."""

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SEARCH_POSTS = frozenset(
    {
        "/mlflow/runs/search",
        "/mlflow/experiments/search",
        "/mlflow/logged-models/search",
    }
)
"""POST routes that only read (mlflow 3.17.2 `mlflow/server/handlers.py` search handlers)."""
OWN_ACCOUNT = frozenset({"/mlflow/users/current", "/mlflow/users/current/permissions"})
"""Who am I and what may I do: the only user routes a non-admin reads."""
ADMIN_ONLY = (
    re.compile(r"/mlflow/users/.*"),
    re.compile(r".*/roles(/.*)?"),
    re.compile(r".*/permissions(/.*)?"),
    re.compile(r".*/demo/.*"),
    re.compile(r".*/(delete|rename|restore)"),
    re.compile(r"/mlflow/experiments/update"),
)
"""Paths (without the `/api/N.N` prefix) only an admin may call, whatever the method: users and
their grants, roles, demo data (mlflow 3.17.2 `routes.py` DEMO_GENERATE is open to any login),
deletes and renames. `experiments/update` renames an experiment, which could move a ledger
entry."""
ADMIN_ONLY_DELETES_EXCEPT = frozenset(
    {"/mlflow/registered-models/alias", "/mlflow/registered-models/delete-tag",
     "/mlflow/model-versions/delete-tag", "/mlflow/experiments/delete-tag"}
)  # fmt: skip
"""DELETE-method routes a release user may still call: they move or drop labels, not data."""
RELEASE_WRITES = re.compile(
    r"/mlflow/(experiments|runs|logged-models|registered-models|model-versions)(/.*)?"
    r"|/mlflow-artifacts/.*"
)
"""What `python -m model` writes: training runs with their logged model and artifacts, the
registered version with its tags and aliases, the ledger's experiments. Not the UI's
`/mlflow/upload-artifact`, which writes into a run's artifacts by run id and which no platform
command calls."""
_API_PREFIX = re.compile(r"^/(?:ajax-)?api/\d+\.\d+")


def _users(variable: str) -> frozenset[str]:
    return frozenset(
        name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()
    )


def release_users() -> frozenset[str]:
    return _users(RELEASE_USERS_ENV)


def serving_users() -> frozenset[str]:
    return _users(SERVING_USERS_ENV)


def request_log_users() -> frozenset[str]:
    return _users(REQUEST_LOG_USERS_ENV)


def scoring_users() -> frozenset[str]:
    return _users(SCORING_USERS_ENV)


def route_of(path: str) -> str:
    """`path` without the static prefix and the `/api/2.0`-style prefix."""
    prefix = os.environ.get(STATIC_PREFIX_ENV_VAR, "").rstrip("/")
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    return _API_PREFIX.sub("", path)


def denial(username: str, method: str, path: str, params: dict[str, str]) -> str | None:
    """Why a non-admin `username` may not call `method path` with query `params`, or None when
    the rules allow it."""
    route = route_of(path)
    if username in serving_users():
        return serving_denial(method, route, params)
    if username in request_log_users():
        return request_log_denial(method, route, params) or overwrite_denial(method, route)
    if username in scoring_users():
        return scoring_denial(method, route, params) or overwrite_denial(method, route)
    if route in OWN_ACCOUNT and method in READ_METHODS:
        return None
    if any(rule.fullmatch(route) for rule in ADMIN_ONLY):
        return f"{method} {route} is for admins only"
    if method == "DELETE" and route not in ADMIN_ONLY_DELETES_EXCEPT:
        return f"DELETE {route} is for admins only"
    if method in READ_METHODS or (method == "POST" and route in SEARCH_POSTS):
        return None
    if username not in release_users():
        return f"{username!r} is read-only; only the release identity writes ({method} {route})"
    if not RELEASE_WRITES.fullmatch(route):
        return f"{method} {route} is not part of the release path; admins only"
    return overwrite_denial(method, route)


def _forbidden(reason: str) -> Response:
    return Response(DENIED_PREFIX + reason, status=403, mimetype="text/plain")


def _flask_rule() -> Response | None:
    """Flask before-request hook, registered after MLflow's: the caller is authenticated."""
    username = getattr(g, "mlflow_authenticated_user", None)
    if username is None or is_unprotected_route(request.path) or sender_is_admin():
        return None
    reason = denial(username, request.method, request.path, request.args.to_dict())
    return _forbidden(reason) if reason else None


def _narrow_registered_model(response: Response) -> Response:
    """Flask after-request hook: a serving or scoring user's `registered-models/get` (which
    MLflow's client calls before every version read) shows only the served versions and their
    aliases."""
    username = getattr(g, "mlflow_authenticated_user", None)
    if (
        username not in serving_users() | scoring_users()
        or route_of(request.path) != REGISTERED_MODEL_GET
        or response.status_code != 200
    ):
        return response
    body = response.get_json()
    model = body["registered_model"]
    served = ServedVersions.load().versions.get(model["name"], frozenset())
    model["latest_versions"] = [
        v for v in model.get("latest_versions", []) if v["version"] in served
    ]
    model["aliases"] = [a for a in model.get("aliases", []) if a["version"] in served]
    response.set_data(json.dumps(body))
    return response


def _add_asgi_rule(fastapi_app) -> None:
    """The same rules for routes FastAPI serves itself (artifacts, gateway, OTLP, jobs), which
    never reach Flask's hooks (mlflow 3.17.2 `add_fastapi_permission_middleware`). Added last,
    it runs first; an unauthenticated request passes on to MLflow's 401."""
    from mlflow.server.asgi_utils import get_routed_asgi_path
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import PlainTextResponse

    @fastapi_app.middleware("http")
    async def platform_rule(asgi_request, call_next):
        path = get_routed_asgi_path(asgi_request)
        if is_unprotected_route(path):
            return await call_next(asgi_request)
        user = _authenticate_fastapi_request(asgi_request)
        if user is not None and not user.is_admin:
            params = dict(asgi_request.query_params)
            # The serving and overwrite rules read the registry and the store: off the loop.
            reason = await run_in_threadpool(
                denial, user.username, asgi_request.method, path, params
            )
            if reason:
                return PlainTextResponse(DENIED_PREFIX + reason, status_code=403)
        return await call_next(asgi_request)


def create_app(app: Flask = mlflow_app):
    """MLflow's basic-auth app with the platform's rules after its own."""
    served = create_basic_auth_app(app)
    app.before_request(_flask_rule)
    app.after_request(_narrow_registered_model)
    if served is not app:
        _add_asgi_rule(served)
    return served

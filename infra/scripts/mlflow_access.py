"""Prepare MLflow's databases and its users before any server starts; safe to run again.

Run by the deploy's `mlflow-access` Job in the MLflow image (mounted from a ConfigMap) and by
the tests, with the same environment:

  MLFLOW_BACKEND_STORE_URI     tracking database, upgraded to the image's schema (mlflow db upgrade)
  MLFLOW_AUTH_CONFIG_PATH      the server's basic_auth.ini (auth `database_uri`, `admin_username`)
  MLFLOW_AUTH_ADMIN_PASSWORD   the admin's password (set, or reset, on every run)
  <each user's passwordEnv>    that user's password

and one argument: a JSON file `{"users": [{"username", "passwordEnv", "grants": [{"resourceType",
"resource", "permission"}]}]}`. An `experiment` grant names the experiment (`model/` trains each
registered model in the experiment of the same name); it is created if missing, so the grant
holds before the first training run. Each declared user ends up with exactly its declared grants:
missing users are created, passwords reset to the given ones (so rotating a Secret and re-running
rotates the login), missing grants added and undeclared ones revoked. Only mlflow is needed.

Running it as one Job before the servers start means exactly one process migrates the schemas
(two replicas starting on an empty database would race) and the admin exists before the
basic-auth app's own bootstrap looks for it.
"""

import json
import os
import sys
from pathlib import Path

from mlflow.db import upgrade as upgrade_tracking_schema
from mlflow.exceptions import MlflowException
from mlflow.server.auth.config import read_auth_config
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

PROXIED_ARTIFACT_ROOT = "mlflow-artifacts:/"
"""The server's default artifact root when it proxies artifacts (`--serve-artifacts`), so an
experiment created here gets the location the server would have given it."""
DEFAULT_WORKSPACE = "default"
"""The workspace every grant lives in while MLflow workspaces are disabled (the platform's case)."""
GRANT_TYPES = ("experiment", "registered_model")
"""The resource types a declared grant may name."""
WORKSPACE_GRANT = "workspace"
"""The resource type of a workspace-wide grant, which `list_grants` reports with the others."""


class AccessError(RuntimeError):
    """The declared access cannot be applied; the message says what to fix."""


def _required_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise AccessError(f"environment variable {name} is empty or unset; it must hold a value")
    return value


def ensure_user(store: SqlAlchemyStore, username: str, password: str, *, admin: bool) -> str:
    """Create `username` or reset its password and admin flag; returns what was done."""
    if not store.has_user(username, use_primary=True):
        store.create_user(username, password, is_admin=admin)
        return "created"
    changed = not store.authenticate_user(username, password, use_primary=True)
    if changed or store.get_user(username).is_admin != admin:
        store.update_user(username, password=password, is_admin=admin)
        return "updated"
    return "unchanged"


def experiment_id(tracking: TrackingStore, name: str) -> str:
    """The id of experiment `name`, created if missing."""
    experiment = tracking.get_experiment_by_name(name)
    return experiment.experiment_id if experiment else tracking.create_experiment(name)


def ensure_grants(
    store: SqlAlchemyStore, tracking: TrackingStore, username: str, grants: list[dict]
) -> list[str]:
    """Make the user's grants exactly `grants`; returns one line per change. Grants made by
    hand are removed too: a role someone assigned to the user is unassigned, and a
    workspace-wide grant (resource type `workspace`, which the per-resource revoke refuses:
    `_reject_workspace_resource_type`, mlflow/server/auth/sqlalchemy_store.py:438-446 @ 3.17.2)
    is deleted with the workspace API."""
    for grant in grants:
        if grant["resourceType"] not in GRANT_TYPES:
            raise AccessError(
                f"user {username!r}: resourceType {grant['resourceType']!r} cannot be declared; "
                f"expected one of {', '.join(GRANT_TYPES)}"
            )
    wanted = {
        (
            g["resourceType"],
            experiment_id(tracking, g["resource"])
            if g["resourceType"] == "experiment" and g["resource"] != "*"
            else g["resource"],
        ): g["permission"]
        for g in grants
    }
    user = store.get_user(username)
    changes = _unassign_handmade_roles(store, user.id)
    current = {
        (row.resource_type, row.resource_pattern): row.permission
        for row in store.list_grants(user.id, DEFAULT_WORKSPACE, GRANT_TYPES)
    }
    for key, permission in current.items():
        if wanted.get(key) != permission:
            if key[0] == WORKSPACE_GRANT:
                store.delete_workspace_permission(DEFAULT_WORKSPACE, username)
            else:
                store.revoke_user_resource_permission(username, *key)
            changes.append(f"revoked {permission} on {key[0]} {key[1]!r}")
    for key, permission in wanted.items():
        if current.get(key) != permission:
            store.grant_user_resource_permission(username, *key, permission)
            changes.append(f"granted {permission} on {key[0]} {key[1]!r}")
    return changes


def _unassign_handmade_roles(store: SqlAlchemyStore, user_id: int) -> list[str]:
    """Unassign every role but the user's own per-user role (`__user_<id>__`, which the
    per-user grant APIs write: `_synthetic_user_role_name`, sqlalchemy_store.py:279-281)."""
    own = SqlAlchemyStore._synthetic_user_role_name(user_id)
    changes = []
    for role in store.list_user_roles(user_id):
        if role.name == own:
            continue
        store.unassign_role_from_user(user_id, role.id)
        held = ", ".join(
            f"{p.permission} on {p.resource_type} {p.resource_pattern!r}" for p in role.permissions
        )
        changes.append(
            f"unassigned role {role.name!r} of workspace {role.workspace!r} ({held or 'no grants'})"
        )
    return changes


def apply_access(spec: dict) -> list[str]:
    """Upgrade both schemas, then make the admin and every declared user match `spec`."""
    backend_uri = _required_env("MLFLOW_BACKEND_STORE_URI")
    upgrade_tracking_schema.callback(backend_uri)
    tracking = TrackingStore(backend_uri, PROXIED_ARTIFACT_ROOT)
    config = read_auth_config()
    if not config.admin_username:
        raise AccessError("basic_auth.ini has no admin_username")
    store = SqlAlchemyStore()
    store.init_db(config.database_uri)  # migrates the auth schema to the image's head
    report = [
        f"admin {config.admin_username}: "
        + ensure_user(
            store,
            config.admin_username,
            _required_env("MLFLOW_AUTH_ADMIN_PASSWORD"),
            admin=True,
        )
    ]
    for user in spec["users"]:
        name = user["username"]
        if name == config.admin_username:
            raise AccessError(f"user {name!r} is the admin; declare a different username")
        password = _required_env(user["passwordEnv"])
        report.append(f"user {name}: " + ensure_user(store, name, password, admin=False))
        report += [
            f"user {name}: {change}"
            for change in ensure_grants(store, tracking, name, user["grants"])
        ]
    return report


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} ACCESS_SPEC.json", file=sys.stderr)
        return 2
    try:
        spec = json.loads(Path(argv[1]).read_text())
        for line in apply_access(spec):
            print(line)
    except (AccessError, MlflowException, OSError, json.JSONDecodeError, KeyError) as error:
        print(f"mlflow access: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

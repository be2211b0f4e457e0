"""The registry as deployed: a real `mlflow server --app-name platform-auth` with the users and
grants made by the deploy's own access script (the `mlflow_server` session fixture)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from infra.mlflow.auth import ACCESS_SCRIPT

TIMEOUT_S = 300
SEARCH_MODELS = "/api/2.0/mlflow/registered-models/search"
SET_ALIAS = "/api/2.0/mlflow/registered-models/alias"
SET_VERSION_TAG = "/api/2.0/mlflow/model-versions/set-tag"


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m model ...` as CI and the training Job run it: credentials only from the env."""
    return subprocess.run(
        [sys.executable, "-m", "model", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def as_user(login_env: dict[str, str]) -> dict[str, str]:
    """This process's environment without any ambient MLflow setting, plus `login_env`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    return {**env, **login_env}


@pytest.fixture(scope="module")
def served_model(mlflow_server, tmp_path_factory) -> dict:
    """A model the pipeline user trained and promoted, declared as served by a deployment."""
    name = f"iris-auth-{uuid.uuid4().hex[:8]}"
    mlflow_server.serve(name)
    cwd = tmp_path_factory.mktemp("pipeline")
    env = as_user(mlflow_server.pipeline_env)
    trained = cli(env, cwd, "train", "--json", "--spec", "iris", "--model-name", name)
    assert trained.returncode == 0, trained.stderr
    promoted = cli(env, cwd, "promote", "--json", "--model-name", name, "--actor", "ci")
    assert promoted.returncode == 0, promoted.stderr
    return {"name": name, **json.loads(trained.stdout)}


def test_anonymous_requests_get_401(mlflow_server) -> None:
    response = requests.get(f"{mlflow_server.url}{SEARCH_MODELS}", timeout=10)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_health_needs_no_login(mlflow_server) -> None:
    assert requests.get(f"{mlflow_server.url}/health", timeout=10).status_code == 200


@pytest.mark.parametrize("username", ["admin", "platform-admin"])
def test_builtin_default_admin_password_is_refused(mlflow_server, username) -> None:
    response = requests.get(
        f"{mlflow_server.url}{SEARCH_MODELS}", auth=(username, "password1234"), timeout=10
    )
    assert response.status_code == 401


def test_the_generated_admin_logs_in(mlflow_server) -> None:
    admin = mlflow_server.logins["admin"]
    response = requests.get(
        f"{mlflow_server.url}{SEARCH_MODELS}", auth=(admin.username, admin.password), timeout=10
    )
    assert response.status_code == 200


def test_pipeline_user_trained_registered_and_promoted(mlflow_server, served_model) -> None:
    from mlflow import MlflowClient

    with pytest.MonkeyPatch.context() as patch:
        for key, value in mlflow_server.pipeline_env.items():
            patch.setenv(key, value)
        client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
        champion = client.get_model_version_by_alias(served_model["name"], "champion")
    assert champion.version == served_model["version"]


def test_serving_user_downloads_the_served_model(mlflow_server, served_model, tmp_path) -> None:
    script = (
        "import sys, mlflow.artifacts\n"
        "print(mlflow.artifacts.download_artifacts(artifact_uri=sys.argv[1], dst_path=sys.argv[2]))"
    )
    uri = f"models:/{served_model['name']}@champion"
    result = subprocess.run(
        [sys.executable, "-c", script, uri, str(tmp_path)],
        env=as_user(mlflow_server.serving_env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (Path(result.stdout.strip()) / "MLmodel").is_file()


def _as_user(mlflow_server, role: str, method: str, path: str, body: dict) -> requests.Response:
    login = mlflow_server.logins[role]
    return requests.request(
        method,
        f"{mlflow_server.url}{path}",
        **({"params": body} if method == "GET" else {"json": body}),
        auth=(login.username, login.password),
        timeout=10,
    )


def _as_serving(mlflow_server, method: str, path: str, body: dict) -> requests.Response:
    return _as_user(mlflow_server, "serving", method, path, body)


def test_serving_user_cannot_move_an_alias(mlflow_server, served_model) -> None:
    body = {"name": served_model["name"], "alias": "champion", "version": "1"}
    assert _as_serving(mlflow_server, "POST", SET_ALIAS, body).status_code == 403
    assert _as_serving(mlflow_server, "DELETE", SET_ALIAS, body).status_code == 403


def test_serving_user_cannot_forge_a_gate_tag(mlflow_server, served_model) -> None:
    body = {
        "name": served_model["name"],
        "version": served_model["version"],
        "key": "gate.passed",
        "value": "true",
    }
    assert _as_serving(mlflow_server, "POST", SET_VERSION_TAG, body).status_code == 403


def test_serving_user_reads_no_model_it_does_not_serve(mlflow_server, served_model) -> None:
    name = f"unserved-{uuid.uuid4().hex[:8]}"
    created = _as_user(
        mlflow_server,
        "pipeline",
        "POST",
        "/api/2.0/mlflow/registered-models/create",
        {"name": name},
    )
    assert created.status_code == 200, created.text
    readable = _as_serving(
        mlflow_server,
        "GET",
        "/api/2.0/mlflow/registered-models/get",
        {"name": served_model["name"]},
    )
    assert readable.status_code == 200
    response = _as_serving(
        mlflow_server, "GET", "/api/2.0/mlflow/registered-models/get", {"name": name}
    )
    assert response.status_code == 403


def test_serving_user_cannot_write_runs(mlflow_server, served_model) -> None:
    body = {"run_id": served_model["run_id"], "key": "gate.passed", "value": "true"}
    response = _as_serving(mlflow_server, "POST", "/api/2.0/mlflow/runs/set-tag", body)
    assert response.status_code == 403


def test_access_script_refuses_a_missing_password(tmp_path) -> None:
    spec = tmp_path / "access.json"
    spec.write_text(json.dumps({"users": []}))
    result = subprocess.run(
        [sys.executable, str(ACCESS_SCRIPT), str(spec)],
        env=as_user({"MLFLOW_BACKEND_STORE_URI": ""}),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 1
    assert "MLFLOW_BACKEND_STORE_URI is empty or unset" in result.stderr


def _as_admin(server, path: str, body: dict) -> dict:
    login = server.logins["admin"]
    response = requests.post(f"{server}{path}", json=body, auth=login, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_access_script_removes_a_hand_made_workspace_grant(mlflow_server, served_model) -> None:
    """An admin gives the serving user a workspace-wide grant by hand (the RBAC role API of
    mlflow 3.17.2, mlflow/server/auth/routes.py:55-76); the deploy's access script, run again,
    takes it back instead of crashing on it, and the serving user reads only what it serves."""
    unserved = f"unserved-{uuid.uuid4().hex[:8]}"
    pipeline = mlflow_server.pipeline_env
    response = requests.post(
        f"{mlflow_server}/api/2.0/mlflow/registered-models/create",
        json={"name": unserved},
        auth=(pipeline["MLFLOW_TRACKING_USERNAME"], pipeline["MLFLOW_TRACKING_PASSWORD"]),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    role = _as_admin(
        mlflow_server,
        "/api/3.0/mlflow/roles/create",
        {"name": f"ops-{uuid.uuid4().hex[:8]}", "workspace": "default"},
    )["role"]
    _as_admin(
        mlflow_server,
        "/api/3.0/mlflow/roles/permissions/add",
        {"role_id": role["id"], "resource_type": "workspace", "resource_pattern": "*",
         "permission": "MANAGE"},
    )  # fmt: skip
    serving = mlflow_server.logins["serving"].username
    _as_admin(mlflow_server, "/api/3.0/mlflow/roles/assign", {"username": serving,
                                                              "role_id": role["id"]})  # fmt: skip
    get = "/api/2.0/mlflow/registered-models/get"
    assert _as_serving(mlflow_server, "GET", get, {"name": unserved}).status_code == 200

    mlflow_server.serve()

    assert _as_serving(mlflow_server, "GET", get, {"name": unserved}).status_code == 403
    name = served_model["name"]
    assert _as_serving(mlflow_server, "GET", get, {"name": name}).status_code == 200


CREATE_MODEL = "/api/2.0/mlflow/registered-models/create"
GET_MODEL = "/api/2.0/mlflow/registered-models/get"


def test_serving_user_cannot_register_a_name_nobody_has_yet(mlflow_server) -> None:
    """MLflow alone would make it the owner of `wine` before prod's first training."""
    name = f"wine-{uuid.uuid4().hex[:8]}"
    response = _as_serving(mlflow_server, "POST", CREATE_MODEL, {"name": name})
    assert response.status_code == 403
    assert response.text.startswith("Permission denied by platform policy")
    assert _as_user(mlflow_server, "admin", "GET", GET_MODEL, {"name": name}).status_code == 404


def test_serving_user_cannot_open_a_ledger_entry(mlflow_server, served_model) -> None:
    body = {"name": f"model-promotions/{served_model['name']}/000009"}
    response = _as_serving(mlflow_server, "POST", "/api/2.0/mlflow/experiments/create", body)
    assert response.status_code == 403


def test_the_pipeline_owns_what_it_trained_yet_cannot_delete_or_regrant_it(
    mlflow_server, served_model
) -> None:
    name, version = served_model["name"], served_model["version"]
    for method, path, body in [
        ("DELETE", "/api/2.0/mlflow/registered-models/delete", {"name": name}),
        ("DELETE", "/api/2.0/mlflow/model-versions/delete", {"name": name, "version": version}),
        ("POST", "/api/2.0/mlflow/registered-models/rename", {"name": name, "new_name": "x"}),
        (
            "POST",
            "/api/2.0/mlflow/registered-models/permissions/create",
            {"name": name, "username": "platform-serving", "permission": "EDIT"},
        ),
    ]:
        response = _as_user(mlflow_server, "pipeline", method, path, body)
        assert response.status_code == 403, (path, response.text)
    champion = _as_serving(mlflow_server, "GET", SET_ALIAS, {"name": name, "alias": "champion"})
    assert champion.status_code == 200


def test_an_admin_deletes_a_model(mlflow_server) -> None:
    name = f"scratch-{uuid.uuid4().hex[:8]}"
    assert _as_user(mlflow_server, "pipeline", "POST", CREATE_MODEL, {"name": name}).ok
    path = "/api/2.0/mlflow/registered-models/delete"
    assert _as_user(mlflow_server, "admin", "DELETE", path, {"name": name}).status_code == 200
    assert _as_user(mlflow_server, "admin", "GET", GET_MODEL, {"name": name}).status_code == 404


def test_serving_user_cannot_generate_demo_data(mlflow_server) -> None:
    response = _as_serving(mlflow_server, "POST", "/ajax-api/3.0/mlflow/demo/generate", {})
    assert response.status_code == 403
    assert response.text.startswith("Permission denied by platform policy")

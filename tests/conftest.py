"""Session fixtures for every suite: a real MLflow server (basic-auth, as deployed) and a model
trained by ``model/``."""

from __future__ import annotations

import fcntl
import json
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localrun.process_group import ServerGroup, free_port
from tests.support.mlflow_server import (
    SERVER_START_TIMEOUT_S,
    TRAIN_TIMEOUT_S,
    MlflowLogin,
    MlflowServer,
    download_model,
    isolated_env,
    stack_served_models,
)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real ``mlflow server --app-name platform-auth`` on localhost, configured as the stack
    configures it (``infra/mlflow/auth.py``): MLflow's basic-auth app plus the platform's write
    rules, loaded from the same files the deploy mounts; SQLite stores, proxied local artifacts,
    default permission NO_PERMISSIONS, users and grants created by the deploy's access script."""
    from infra.mlflow.auth import (
        ACCESS_SCRIPT,
        AUTH_APP_NAME,
        PASSWORD_ENV,
        RELEASE_USERS_ENV,
        MlflowUsers,
        basic_auth_ini,
        write_auth_app,
    )

    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    logins = {
        role: MlflowLogin(f"platform-{role}", secrets.token_urlsafe(24))
        for role in ("admin", "serving", "pipeline")
    }
    auth_ini = root / "basic_auth.ini"
    auth_ini.write_text(basic_auth_ini(f"sqlite:///{root / 'auth.db'}", logins["admin"].username))
    backend_uri = f"sqlite:///{root / 'mlflow.db'}"
    env = isolated_env(
        MLFLOW_AUTH_CONFIG_PATH=str(auth_ini),
        MLFLOW_AUTH_ADMIN_PASSWORD=logins["admin"].password,
        MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_urlsafe(32),
        MLFLOW_BACKEND_STORE_URI=backend_uri,
        **{PASSWORD_ENV[role]: logins[role].password for role in PASSWORD_ENV},
        # Job execution (GenAI jobs) would spawn a dozen workers the tests never use.
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        PYTHONPATH=str(write_auth_app(root / "auth-app")),
        **{RELEASE_USERS_ENV: logins["pipeline"].username},
    )
    served: set[str] = set(stack_served_models())

    def configure(extra_models: tuple[str, ...] = ()) -> None:
        served.update(extra_models)
        users = MlflowUsers(
            serving=logins["serving"].username,
            pipeline=logins["pipeline"].username,
            served_models=tuple(served),
        )
        spec = root / "access.json"
        spec.write_text(users.access_spec_json())
        result = subprocess.run(
            [sys.executable, str(ACCESS_SCRIPT), str(spec)],
            env=env,
            capture_output=True,
            text=True,
            timeout=SERVER_START_TIMEOUT_S,
        )
        if result.returncode != 0:
            pytest.fail(f"mlflow access script failed:\n{result.stderr}")

    configure()
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--app-name", AUTH_APP_NAME,
        "--backend-store-uri", backend_uri,
        "--artifacts-destination", str(root / "artifacts"),
        "--serve-artifacts",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server = ServerGroup(
        command,
        cwd=root,
        env=env,
        ready_urls=[f"{url}/health"],
        log_path=root / "server.log",
        startup_timeout=SERVER_START_TIMEOUT_S,
    )
    with server:
        yield MlflowServer(url, logins, configure)


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, Any]:
    """``python -m model train --json`` against a private SQLite store, once per test run: the
    xdist workers share it through the run's temporary directory, under a file lock (the
    suites only read it).

    Returns the command's JSON (see docs/contracts.md) plus ``local_model_dir``: the registered
    model downloaded to a local directory, ready for ``MODEL_URI``.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    root, saved = shared / "trained-model", shared / "trained-model.json"
    with open(shared / "trained-model.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not saved.exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            saved.write_text(json.dumps(train(root)))
    return json.loads(saved.read_text())


def train(root: Path) -> dict[str, Any]:
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    completed = subprocess.run(
        [sys.executable, "-m", "model", "train", "--json", "--tracking-uri", tracking_uri],
        cwd=root,
        env=isolated_env(),
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_S,
    )
    if completed.returncode != 0:
        pytest.fail(f"model train failed ({completed.returncode}):\n{completed.stderr}")
    result = json.loads(completed.stdout)
    result["local_model_dir"] = str(download_model(tracking_uri, result, root / "model"))
    return result

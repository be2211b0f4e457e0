"""Session fixtures for every suite: a real MLflow server (basic-auth, as deployed) and a model
trained by ``model/``."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from localrun.process_group import ServerGroup, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT_S = 120
LEDGER_KEY_ENV = "MODEL_LEDGER_KEY"
LEDGER_KEY = secrets.token_hex(32)
"""The session's promotion-ledger key: the release path's (the pipeline user's) alone."""
TRAIN_TIMEOUT_S = 300


def isolated_env(**overrides: str) -> dict[str, str]:
    """The test environment without any ambient MLflow URI, plus ``overrides``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    return {**env, **overrides}


class MlflowLogin(NamedTuple):
    """One basic-auth user of the test server (a NamedTuple: tests/model loads this file by
    path, outside sys.modules, where dataclasses cannot resolve their annotations)."""

    username: str
    password: str


class MlflowServer(str):
    """A running ``mlflow server --app-name platform-auth``: its URL (the string itself, so
    ``f"{mlflow_server}/health"`` works) plus the logins the deploy's access script created.

    ``admin_env``/``pipeline_env``/``serving_env`` are the environment a client needs as that
    user (``MLFLOW_TRACKING_URI`` and ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``); the pipeline
    user, the release path, also holds the promotion ledger's key (``MODEL_LEDGER_KEY``).
    """

    url: str
    logins: dict[str, MlflowLogin]
    _configure: Any

    def __new__(cls, url: str, logins: dict[str, MlflowLogin], configure: Any) -> MlflowServer:
        server = super().__new__(cls, url)
        server.url, server.logins, server._configure = url, logins, configure
        return server

    def env_for(self, role: str) -> dict[str, str]:
        login = self.logins[role]
        return {
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_USERNAME": login.username,
            "MLFLOW_TRACKING_PASSWORD": login.password,
            **({LEDGER_KEY_ENV: LEDGER_KEY} if role == "pipeline" else {}),
        }

    @property
    def admin_env(self) -> dict[str, str]:
        return self.env_for("admin")

    @property
    def pipeline_env(self) -> dict[str, str]:
        return self.env_for("pipeline")

    @property
    def serving_env(self) -> dict[str, str]:
        return self.env_for("serving")

    def serve(self, *model_names: str) -> None:
        """Let the serving user read these registered models too, as a stack whose deployments
        serve them would: the deploy's access script runs again with them declared."""
        self._configure(model_names)


def _stack_served_models() -> tuple[str, ...]:
    """The registered models the committed stacks' deployments serve."""
    from infra.mlflow.auth import served_model_names
    from infra.stack_config import load_stack_file

    names: set[str] = set()
    for stack_file in sorted(REPO_ROOT.glob("Pulumi.*.yaml")):
        names.update(served_model_names(load_stack_file(stack_file).deployments))
    return tuple(sorted(names))


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
    served: set[str] = set(_stack_served_models())

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
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``python -m model train --json`` against a private SQLite store.

    Returns the command's JSON (see docs/contracts.md) plus ``local_model_dir``: the registered
    model downloaded to a local directory, ready for ``MODEL_URI``.
    """
    root = tmp_path_factory.mktemp("trained-model")
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


def download_model(tracking_uri: str, result: dict[str, Any], destination: Path) -> Path:
    """Fetch the registered version's files through MLflow alone (no import of ``model/``)."""
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    source = client.get_model_version_download_uri(result["model_name"], result["version"])
    destination.mkdir(parents=True, exist_ok=True)
    return Path(
        download_artifacts(
            artifact_uri=source, dst_path=str(destination), tracking_uri=tracking_uri
        )
    )


TEST_REGISTRY = "http://registry.test"
"""Recorded as the source of pins written by `pin_test_stack`; nothing listens there."""


def pin_test_stack(stack_file: Path, merge: str = "auto") -> Path:
    """Pins written by the test, standing in for `python -m release pin` (no registry): every
    predictor of `stack_file` pinned at its '<name>/<version>' or, for '<name>@<alias>', at
    version 1 (2 for `challenger`, 3 for `candidate`), with a digest derived from name and
    version. Returns the pin file beside the stack file."""
    import hashlib

    from release.pins import Pin, PinLock, pin_file_for, write_pins
    from release.stack_refs import predictor_refs

    alias_version = {"challenger": "2", "candidate": "3"}
    deployments: dict[str, dict[str, Pin]] = {}
    for ref in predictor_refs(stack_file):
        version = ref.version or alias_version.get(ref.alias or "", "1")
        digest = "sha256:" + hashlib.sha256(f"{ref.model}/{version}".encode()).hexdigest()
        deployments.setdefault(ref.deployment, {})[ref.predictor] = Pin(
            model=ref.model, version=version, digest=digest, alias=ref.alias,
            registry=TEST_REGISTRY,
        )  # fmt: skip
    stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    path = pin_file_for(stack_file)
    write_pins(path, PinLock(stack=stack, merge=merge, deployments=deployments))
    return path

"""The real MLflow server the suites share, as a client sees it: its URL and logins, the
environment each role needs, and the session's promotion-ledger key."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from localrun.process_group import ServerGroup, free_port
from localrun.tls_files import TlsFiles
from tests.support.stacks import REPO_ROOT

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
    """One basic-auth user of the test server."""

    username: str
    password: str


class MlflowServer(str):
    """A running ``mlflow server --app-name platform-auth``: its URL (the string itself, so
    ``f"{mlflow_server}/health"`` works) plus the logins the deploy's access script created.

    ``admin_env``/``pipeline_env``/``serving_env``/``reader_env``/``request_log_env``/
    ``scoring_env`` are the environment a client needs as that user (``MLFLOW_TRACKING_URI`` and
    ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``); the pipeline user, the release path, also holds
    the promotion ledger's key (``MODEL_LEDGER_KEY``). The serving user reads only the versions
    ``serve`` declared.
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

    @property
    def reader_env(self) -> dict[str, str]:
        """The pin command's login (`make pin`): reads every model, writes nothing."""
        return self.env_for("reader")

    @property
    def request_log_env(self) -> dict[str, str]:
        """The request-log sinks' login: writes only under `0/request-logs/`."""
        return self.env_for("request-log")

    @property
    def scoring_env(self) -> dict[str, str]:
        """The batch-scoring CronJobs' login: reads the served versions and `0/scoring/`,
        writes new files only in the committed stacks' declared scoring outputs."""
        return self.env_for("scoring")

    def serve(self, *models: str) -> None:
        """Declare what a stack's deployments serve: `name/version` (a pinned version) joins
        the served-versions list, and each name's READ grant is applied by the deploy's access
        script, run again (a bare `name` only grants)."""
        self._configure(models)


def stack_served_models() -> tuple[str, ...]:
    """The registered models the committed stacks' deployments serve."""
    from infra.mlflow.auth import served_model_names
    from infra.stack_config import load_stack_file

    names: set[str] = set()
    for stack_file in sorted(REPO_ROOT.glob("Pulumi.*.yaml")):
        names.update(served_model_names(load_stack_file(stack_file).deployments))
    return tuple(sorted(names))


def stack_scoring_outputs() -> tuple[str, ...]:
    """The batch-scoring output folders the committed stacks declare."""
    from infra.mlflow.auth import scoring_outputs
    from infra.stack_config import load_stack_file

    folders: set[str] = set()
    for stack_file in sorted(REPO_ROOT.glob("Pulumi.*.yaml")):
        folders.update(scoring_outputs(load_stack_file(stack_file).deployments))
    return tuple(sorted(folders))


def platform_auth_env(root: Path, backend_uri: str, logins: dict[str, MlflowLogin]) -> dict:
    """The environment of the server and of the deploy's access script, as the stack sets it
    (``infra/mlflow/auth.py``): the user store shares ``backend_uri`` with the tracking store;
    the served-versions list is ``served_versions_file(root)``, empty until ``run_access_script``
    writes it."""
    from infra.mlflow.auth import (
        PASSWORD_ENV,
        basic_auth_ini,
        platform_rules_env,
        write_auth_app,
    )

    auth_ini = root / "basic_auth.ini"
    auth_ini.write_text(basic_auth_ini(backend_uri, logins["admin"].username))
    return isolated_env(
        MLFLOW_AUTH_CONFIG_PATH=str(auth_ini),
        MLFLOW_AUTH_ADMIN_PASSWORD=logins["admin"].password,
        MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_urlsafe(32),
        MLFLOW_BACKEND_STORE_URI=backend_uri,
        **{PASSWORD_ENV[role]: logins[role].password for role in PASSWORD_ENV},
        # Job execution (GenAI jobs) would spawn a dozen workers the tests never use.
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        PYTHONPATH=str(write_auth_app(root / "auth-app")),
        **platform_rules_env(
            pipeline=logins["pipeline"].username,
            serving=logins["serving"].username,
            request_log=logins["request-log"].username,
            scoring=logins["scoring"].username,
            scoring_outputs=stack_scoring_outputs(),
            served_versions_path=str(served_versions_file(root)),
        ),
    )


def served_versions_file(root: Path) -> Path:
    return root / "served-versions.json"


def run_access_script(
    root: Path,
    env: dict[str, str],
    logins: dict[str, MlflowLogin],
    served: tuple[str, ...],
    versions: Iterable[tuple[str, str]] = (),
) -> None:
    """The deploy's access script: schemas upgraded, admin, users and grants; and the
    served-versions list the deploy renders from the pinned (model, version) `versions`."""
    from infra.mlflow.auth import ACCESS_SCRIPT, MlflowUsers, served_versions_json

    served_versions_file(root).write_text(served_versions_json(versions))
    users = MlflowUsers(
        serving=logins["serving"].username,
        pipeline=logins["pipeline"].username,
        reader=logins["reader"].username,
        request_log=logins["request-log"].username,
        scoring=logins["scoring"].username,
        served_models=served,
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


def platform_auth_server(
    root: Path, env: dict[str, str], backend_uri: str, port: int, tls: TlsFiles | None = None
) -> ServerGroup:
    """``mlflow server --app-name platform-auth`` on 127.0.0.1:``port``, artifacts proxied
    from ``root/artifacts``; not started. With ``tls`` it serves only HTTPS, with the options
    the deploy gives it (``infra/internal_tls.py``), at ``server_url(port, tls)``."""
    from infra.internal_tls import uvicorn_tls_options
    from infra.mlflow.auth import AUTH_APP_NAME

    command = [
        sys.executable, "-m", "mlflow", "server",
        "--app-name", AUTH_APP_NAME,
        "--backend-store-uri", backend_uri,
        "--artifacts-destination", str(root / "artifacts"),
        "--serve-artifacts",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
        *(["--uvicorn-opts", uvicorn_tls_options(str(tls.directory))] if tls else []),
    ]  # fmt: skip
    return ServerGroup(
        command,
        cwd=root,
        env=env,
        ready_urls=[f"{server_url(port, tls)}/health"],
        log_path=root / "server.log",
        startup_timeout=SERVER_START_TIMEOUT_S,
        ca_file=tls.ca_file if tls else None,
    )


def server_url(port: int, tls: TlsFiles | None = None) -> str:
    """Over TLS by the name the test certificate holds."""
    return f"https://localhost:{port}" if tls else f"http://127.0.0.1:{port}"


@contextmanager
def running_mlflow(root: Path, tls: TlsFiles | None = None) -> Iterator[MlflowServer]:
    """The ``mlflow_server`` fixture's server, its files under ``root``: SQLite stores (the
    user store in its own file), the committed stacks' served models granted; with ``tls`` it
    serves only HTTPS."""
    port = free_port()
    logins = platform_logins()
    backend_uri = f"sqlite:///{root / 'mlflow.db'}"
    env = platform_auth_env(root, f"sqlite:///{root / 'auth.db'}", logins)
    env["MLFLOW_BACKEND_STORE_URI"] = backend_uri
    served: set[str] = set(stack_served_models())
    declared: set[tuple[str, str]] = set()

    def configure(models: tuple[str, ...] = ()) -> None:
        for model in models:
            name, _, version = model.partition("/")
            served.add(name)
            if version:
                declared.add((name, version))
        run_access_script(root, env, logins, tuple(served), declared)

    configure()
    with platform_auth_server(root, env, backend_uri, port, tls):
        yield MlflowServer(server_url(port, tls), logins, configure)


def platform_logins() -> dict[str, MlflowLogin]:
    return {
        role: MlflowLogin(f"platform-{role}", secrets.token_urlsafe(24))
        for role in ("admin", "serving", "pipeline", "reader", "request-log", "scoring")
    }


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

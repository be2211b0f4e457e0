"""Helpers for the model suite: run the real CLI in-process, and private real MLflow servers."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from localrun.process_group import ServerGroup, free_port
from model.cli import main
from tests.conftest import LEDGER_KEY, LEDGER_KEY_ENV, SERVER_START_TIMEOUT_S, isolated_env


@dataclass(frozen=True)
class CliResult:
    """Exit code and captured output of one ``python -m model`` invocation."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


CliRunner = Callable[..., CliResult]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """Run ``python -m model <args>`` through its real entry function and capture its output.

    The environment is restored afterwards (the CLI sets its MLflow retry bounds in it).
    """

    def run(*args: str) -> CliResult:
        saved = dict(os.environ)
        try:
            code = main([str(arg) for arg in args])
        finally:
            os.environ.clear()
            os.environ.update(saved)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def mlflow_server(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's authenticated server (tests/conftest.py), used as the pipeline user: its
    credentials are in this test's environment, where the CLI and MLflow's client read them."""
    for key, value in mlflow_server.pipeline_env.items():
        if key != "MLFLOW_TRACKING_URI":
            monkeypatch.setenv(key, value)
    return mlflow_server


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for a CLI subprocess: no ambient MLflow URI (credentials as the suite sets
    them for the session server, e.g. ``MLFLOW_TRACKING_USERNAME``, are kept)."""
    keep = {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", LEDGER_KEY_ENV}
    return {**isolated_env(), **{k: v for k, v in os.environ.items() if k in keep}}


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    """A private, empty embedded tracking store (SQLite file with artifacts beside it)."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@dataclass
class PrivateMlflowServer:
    """A real ``mlflow server`` this test owns: it may stop it and start it again (same port,
    same database), e.g. to kill the registry in the middle of a promotion."""

    root: Path
    port: int = field(default_factory=free_port)
    server: ServerGroup | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
            "--artifacts-destination", str(self.root / "artifacts"),
            "--serve-artifacts",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--workers", "1",
        ]  # fmt: skip
        self.server = ServerGroup(
            command,
            cwd=self.root,
            env=isolated_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),
            ready_urls=[f"{self.url}/health"],
            log_path=self.root / "server.log",
            startup_timeout=SERVER_START_TIMEOUT_S,
        )
        self.server.start()
        return self.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def private_mlflow_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PrivateMlflowServer]:
    """A started private server, stopped at the end of the test whatever happened; the test
    holds the ledger key, as the release path does (set apart from the test's own
    ``monkeypatch``, so its ``undo()`` keeps the key)."""
    server = PrivateMlflowServer(tmp_path_factory.mktemp("private-mlflow"))
    server.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(LEDGER_KEY_ENV, LEDGER_KEY)
            yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def second_mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another registry (prod, say) beside the session's ``mlflow_server`` (dev)."""
    server = PrivateMlflowServer(tmp_path_factory.mktemp("second-mlflow"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()

"""Fixtures of the model suite: the real CLI in-process, and private real MLflow servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from model.cli import main
from tests.model.support import CliResult, CliRunner, PrivateMlflowServer
from tests.support.mlflow_server import (
    LEDGER_KEY,
    LEDGER_KEY_ENV,
    isolated_env,
)


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

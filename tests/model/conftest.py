"""Helpers for the model suite: run the real CLI in-process and read its JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from model.cli import main


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
    """Run ``python -m model <args>`` through its real entry function and capture its output."""

    def run(*args: str) -> CliResult:
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    """A private, empty embedded tracking store (SQLite file with artifacts beside it)."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}"

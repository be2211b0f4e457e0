"""Helpers of the model suite: the CLI's captured result, and a private real MLflow server."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localrun.process_group import ServerGroup, free_port
from tests.support.mlflow_server import SERVER_START_TIMEOUT_S, isolated_env


@dataclass(frozen=True)
class CliResult:
    """Exit code and captured output of one ``python -m model`` invocation."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


CliRunner = Callable[..., CliResult]



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

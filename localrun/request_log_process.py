"""The request-log sink (`python -m request_log`) as a local process, for tests and demos."""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from localrun.process_group import ServerGroup, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent


class RequestLogSinkProcess(ServerGroup):
    """The sink on a free port, its join database in a fresh directory; a context manager."""

    def __init__(self, deployments: dict[str, dict], destination: str) -> None:
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="request-log-"))
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [sys.executable, "-m", "request_log"],
            cwd=REPO_ROOT,
            env={
                **os.environ,
                "REQUEST_LOG_PORT": str(self.port),
                "REQUEST_LOG_DATABASE": str(self.workdir / "join.sqlite"),
                "REQUEST_LOG_DESTINATION": destination,
                "REQUEST_LOG_DEPLOYMENTS": json.dumps(deployments),
            },
            ready_urls=[f"{self.url}/health/ping"],
            log_path=self.workdir / "sink.log",
            startup_timeout=60,
        )

    def _clean_up(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

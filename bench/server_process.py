"""Starts the model server exactly as the image does, on free local ports, and stops it.

The command and environment come from serving/Dockerfile; the serving package is copied into
a fresh app directory (like the image's `COPY *.py /app/serving/`) so the server can import
nothing else from this repository.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import requests

from bench.image_spec import SERVING_DIR, read_image_spec

OPERATOR_ENV = {
    "SELDON_DEPLOYMENT_ID": "iris",
    "PREDICTOR_ID": "main",
    "PREDICTIVE_UNIT_ID": "classifier",
    "PREDICTOR_LABELS": '{"version": "v1"}',
    "PREDICTIVE_UNIT_IMAGE": "mlops-model-server:local",
}


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ModelServerProcess:
    """A running `seldon-core-microservice`; use as a context manager so it always stops."""

    model_uri: str
    env: dict[str, str] = field(default_factory=dict)
    startup_timeout: float = 90.0
    http_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="model-server-"))
        self.log_path = self.workdir / "server.log"
        self._process: subprocess.Popen[bytes] | None = None
        spec = read_image_spec()
        self.image_env = spec.env
        self.command = spec.command

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        path = self.process_env()["PREDICTIVE_UNIT_METRICS_ENDPOINT"]
        return f"http://127.0.0.1:{self.metrics_port}{path}"

    def process_env(self) -> dict[str, str]:
        """Image ENV, then operator identity, then this run's ports, model and overrides."""
        bin_dir = str(Path(sys.executable).parent)
        return {
            **os.environ,
            **self.image_env,
            "HOME": str(self.workdir),
            "TMPDIR": str(self.workdir),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            **OPERATOR_ENV,
            "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(self.http_port),
            "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(self.metrics_port),
            "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(self.grpc_port),
            "MODEL_URI": self.model_uri,
            **self.env,
        }

    def start(self) -> "ModelServerProcess":
        app_dir = self.workdir / "app"
        shutil.copytree(SERVING_DIR, app_dir / "serving", ignore=_only_python_modules)
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                self.command,
                cwd=app_dir,
                env=self.process_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_ready()
        return self

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL what is left after 20 s."""
        if self._process is None:
            return
        process, self._process = self._process, None
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass
        _kill_group_leftovers(process.pid)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        pending = [f"{self.url}/health/status", self.metrics_url]
        while pending:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"model server exited early:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"model server not ready in {self.startup_timeout}s:\n{self.log_tail()}"
                )
            try:
                if requests.get(pending[0], timeout=2).status_code == 200:
                    pending.pop(0)
                    continue
            except requests.ConnectionError:
                pass
            time.sleep(0.2)

    def __enter__(self) -> "ModelServerProcess":
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _only_python_modules(directory: str, names: list[str]) -> list[str]:
    return [name for name in names if not name.endswith(".py")]


def _kill_group_leftovers(group: int) -> None:
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass

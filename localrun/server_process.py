"""Starts the model server exactly as the image does, on free local ports, and stops it.

The command and environment come from serving/Dockerfile; the serving package is copied into
a fresh app directory (like the image's `COPY *.py /app/serving/`) so the server can import
nothing else from this repository.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

from localrun.image_spec import SERVING_DIR, read_image_spec
from localrun.process_group import ServerGroup, free_port

OPERATOR_ENV = {
    "SELDON_DEPLOYMENT_ID": "iris",
    "PREDICTOR_ID": "main",
    "PREDICTIVE_UNIT_ID": "classifier",
    "PREDICTOR_LABELS": '{"version": "v1"}',
    "PREDICTIVE_UNIT_IMAGE": "mlops-model-server:local",
}


class ModelServerProcess(ServerGroup):
    """The model server (`python -m serving`); use as a context manager so it always stops."""

    def __init__(
        self,
        model_uri: str,
        env: dict[str, str] | None = None,
        startup_timeout: float = 120.0,
        metrics_port: int | None = None,
    ) -> None:
        """`metrics_port` fixed: a restarted server keeps its Prometheus target."""
        self.http_port, self.grpc_port = free_port(), free_port()
        self.metrics_port = metrics_port or free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="model-server-"))
        spec = read_image_spec()
        process_env = {
            **os.environ,
            **spec.env,
            "HOME": str(self.workdir),
            "TMPDIR": str(self.workdir),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **OPERATOR_ENV,
            "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(self.http_port),
            "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(self.metrics_port),
            "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(self.grpc_port),
            "MODEL_URI": model_uri,
            **(env or {}),
        }
        self.url = f"http://127.0.0.1:{self.http_port}"
        metrics_path = process_env["PREDICTIVE_UNIT_METRICS_ENDPOINT"]
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}{metrics_path}"
        super().__init__(
            spec.command,
            cwd=self.workdir / "app",
            env=process_env,
            ready_urls=[f"{self.url}/health/status", self.metrics_url],
            log_path=self.workdir / "server.log",
            startup_timeout=startup_timeout,
        )

    def _prepare(self) -> None:
        shutil.copytree(SERVING_DIR, self.workdir / "app" / "serving", ignore=_only_python_modules)

    def _clean_up(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _only_python_modules(directory: str, names: list[str]) -> list[str]:
    return [name for name in names if not name.endswith(".py")]

"""A real `mlflow server` on localhost for the local demos and the pin bootstrap: SQLite
backend, proxied local artifacts, no login (nothing leaves the machine)."""

import sys
from pathlib import Path

from localrun.process_group import ServerGroup, free_port

STARTUP_TIMEOUT_S = 120.0


class LocalMlflowServer(ServerGroup):
    """`mlflow server` with its stores under `root`; `url` is its tracking/registry URI."""

    def __init__(self, root: Path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
             str(self.port), "--workers", "1", "--backend-store-uri",
             f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination",
             str(root / "artifacts")],
            cwd=root,
            env={"PATH": "/usr/bin:/bin", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                 "HOME": str(root)},
            ready_urls=[f"{self.url}/health"],
            log_path=root / "mlflow-server.log",
            startup_timeout=STARTUP_TIMEOUT_S,
        )  # fmt: skip

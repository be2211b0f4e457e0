"""MLServer 1.7.1's scikit-learn runtime serving the same pipeline, for comparison."""

import json
import shutil
import tempfile
from pathlib import Path

import joblib

from localrun.process_group import ServerGroup, free_port

MODEL_NAME = "iris"


class MLServerProcess(ServerGroup):
    """`mlserver start` from its own virtualenv on free local ports.

    `parallel_workers` None keeps MLServer's default (one separate inference process).
    """

    def __init__(
        self, mlserver_venv: Path, estimator: object, parallel_workers: int | None = None
    ) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="mlserver-"))
        model_dir = self.workdir / MODEL_NAME
        model_dir.mkdir()
        joblib.dump(estimator, model_dir / "model.joblib")
        (model_dir / "model-settings.json").write_text(
            json.dumps(
                {
                    "name": MODEL_NAME,
                    "implementation": "mlserver_sklearn.SKLearnModel",
                    "parameters": {"uri": "./model.joblib"},
                }
            )
        )
        http_port = free_port()
        settings = {
            "host": "127.0.0.1",
            "http_port": http_port,
            "grpc_port": free_port(),
            "metrics_port": free_port(),
        }
        if parallel_workers is not None:
            settings["parallel_workers"] = parallel_workers
        (self.workdir / "settings.json").write_text(json.dumps(settings))
        self.url = f"http://127.0.0.1:{http_port}"
        self.infer_url = f"{self.url}/v2/models/{MODEL_NAME}/infer"
        super().__init__(
            [str(mlserver_venv / "bin" / "mlserver"), "start", str(self.workdir)],
            cwd=self.workdir,
            env={"PATH": f"{mlserver_venv / 'bin'}:/usr/bin:/bin", "HOME": str(self.workdir)},
            ready_urls=[f"{self.url}/v2/models/{MODEL_NAME}/ready"],
            log_path=self.workdir / "mlserver.log",
            startup_timeout=120.0,
        )

    def _clean_up(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

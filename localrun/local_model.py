"""A model trained by `model/` for local runs: trained once per spec into .localrun/<spec>/, then
reused."""

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = REPO_ROOT / ".localrun"


@dataclass(frozen=True)
class LocalModel:
    """A registered version in a local SQLite MLflow store, plus its downloaded directory."""

    model_name: str
    version: str
    model_uri: str
    model_digest: str
    tracking_uri: str
    local_dir: str


class TrainingFailed(RuntimeError):
    """`python -m model train` exited non-zero; its own error is already on stderr."""


def ensure_model(spec: str = "iris", state_dir: Path = STATE_DIR) -> LocalModel:
    """Reuse the model of `model/specs/<spec>.yaml` recorded under `state_dir`, or train and
    register one with `model/`."""
    state_dir = state_dir / spec
    record = state_dir / "model.json"
    if record.is_file():
        model = LocalModel(**json.loads(record.read_text()))
        if Path(model.local_dir, "MLmodel").is_file():
            return model
    state_dir.mkdir(parents=True, exist_ok=True)
    tracking_uri = f"sqlite:///{state_dir / 'mlflow.db'}"
    command = ["-m", "model", "train", "--json", "--model-name", spec, "--tracking-uri"]
    print(f"training {spec} with `python -m model train` into {state_dir} ...", flush=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    completed = subprocess.run(
        [sys.executable, *command, tracking_uri],
        cwd=state_dir,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise TrainingFailed(
            f"`python -m model train --model-name {spec}` exited {completed.returncode}"
        )
    trained = json.loads(completed.stdout)
    model = LocalModel(
        model_name=trained["model_name"],
        version=str(trained["version"]),
        model_uri=trained["model_uri"],
        model_digest=trained["model_digest"],
        tracking_uri=tracking_uri,
        local_dir=_download(
            trained["model_name"], str(trained["version"]), tracking_uri, state_dir / "model"
        ),
    )
    record.write_text(json.dumps(asdict(model), indent=2))
    return model


def _download(name: str, version: str, tracking_uri: str, destination: Path) -> str:
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    source = client.get_model_version_download_uri(name, version)
    destination.mkdir(parents=True, exist_ok=True)
    return download_artifacts(
        artifact_uri=source, dst_path=str(destination), tracking_uri=tracking_uri
    )

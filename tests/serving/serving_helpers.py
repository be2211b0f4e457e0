"""What the serving tests share: the iris feature order, a prediction call, model directories."""

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd
import requests
from mlflow import MlflowClient

from bench.server_process import ModelServerProcess
from model.packaging import save_model

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def predict(server: ModelServerProcess, body: Any) -> requests.Response:
    """POST a JSON body to the Seldon prediction endpoint."""
    return requests.post(f"{server.url}/api/v1.0/predictions", json=body, timeout=10)


def saved_model(estimator: Any, x_train: pd.DataFrame, y_train: pd.Series, root: Path) -> Path:
    """Fit `estimator` and write it with `model/`'s packaging, as training does."""
    destination = root / "model"
    save_model(estimator.fit(x_train, y_train), x_train, str(y_train.name), "run-0", destination)
    return destination


def register(tracking_uri: str, model_dir: Path, name: str) -> str:
    """Upload a model directory as a run artifact and register it, as anyone with write access
    to the registry could; returns the new version."""
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name("serving-tests")
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment("serving-tests")
    )
    run = client.create_run(experiment_id)
    client.log_artifacts(run.info.run_id, str(model_dir), artifact_path="model")
    client.set_terminated(run.info.run_id)
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    source = f"{run.info.artifact_uri}/model"
    return client.create_model_version(name, source, run_id=run.info.run_id).version


def launch_unready(server: ModelServerProcess) -> subprocess.Popen[bytes]:
    """Start the server's command in its own process group without waiting for readiness."""
    server._prepare()  # the app directory the image's COPY would hold
    with open(server.log_path, "wb") as log:
        return subprocess.Popen(
            server.command,
            cwd=server.cwd,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def sigterm_main_and_wait(process: subprocess.Popen[bytes], within_s: float) -> list[int]:
    """SIGTERM only the main process, as the kubelet does; return the group left after
    `within_s` seconds (empty when everything exited)."""
    os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        process.poll()
        left = group_members(process.pid)
        if not left:
            return []
        time.sleep(0.1)
    return group_members(process.pid)

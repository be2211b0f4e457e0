"""What the serving tests share: the iris feature order, a prediction call, model directories."""

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import requests
from mlflow import MlflowClient

from localrun.memory import group_members
from localrun.server_process import ModelServerProcess
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


def register(server: Any, model_dir: Path, name: str) -> str:
    """Upload a model directory as a run artifact and register it with the pipeline user's
    write access, as anyone holding it could, and declare it served (so the serving user may
    read it); returns the new version. `server` is the session's basic-auth `mlflow_server`."""
    with mock.patch.dict(os.environ, server.pipeline_env):
        client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
        # The platform's convention (model/): a model's runs live in the experiment of its name,
        # which is what the serving user may read artifacts from.
        experiment = client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
        run = client.create_run(experiment_id)
        client.log_artifacts(run.info.run_id, str(model_dir), artifact_path="model")
        client.set_terminated(run.info.run_id)
        if not client.search_registered_models(filter_string=f"name = '{name}'"):
            client.create_registered_model(name)
        source = f"{run.info.artifact_uri}/model"
        version = client.create_model_version(name, source, run_id=run.info.run_id).version
    server.serve(f"{name}/{version}")
    return version


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

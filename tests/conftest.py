"""Session fixtures for every suite: a real MLflow server (basic-auth, as deployed) and a model
trained by ``model/``; the long demo files are collected first."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.mlflow_server import (
    TRAIN_TIMEOUT_S,
    MlflowServer,
    download_model,
    isolated_env,
    running_mlflow,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked `long_running` first (the order is otherwise kept): with `--dist loadfile
    --no-loadscope-reorder` (`make test`) xdist hands out files in collection order, so the
    two-minute demos start at once instead of running alone at the end while the other workers
    sit idle."""
    items.sort(key=lambda item: item.get_closest_marker("long_running") is None)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real ``mlflow server --app-name platform-auth`` on localhost, configured as the stack
    configures it (``infra/mlflow/auth.py``): MLflow's basic-auth app plus the platform's write
    rules, loaded from the same files the deploy mounts; SQLite stores, proxied local artifacts,
    default permission NO_PERMISSIONS, users and grants created by the deploy's access script."""
    with running_mlflow(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, Any]:
    """``python -m model train --json`` against a private SQLite store, once per test run: the
    xdist workers share it through the run's temporary directory, under a file lock (the
    suites only read it).

    Returns the command's JSON (see docs/contracts.md) plus ``local_model_dir``: the registered
    model downloaded to a local directory, ready for ``MODEL_URI``.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    root, saved = shared / "trained-model", shared / "trained-model.json"
    with open(shared / "trained-model.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not saved.exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            saved.write_text(json.dumps(train(root)))
    return json.loads(saved.read_text())


def train(root: Path) -> dict[str, Any]:
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    completed = subprocess.run(
        [sys.executable, "-m", "model", "train", "--json", "--tracking-uri", tracking_uri],
        cwd=root,
        env=isolated_env(),
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_S,
    )
    if completed.returncode != 0:
        pytest.fail(f"model train failed ({completed.returncode}):\n{completed.stderr}")
    result = json.loads(completed.stdout)
    result["local_model_dir"] = str(download_model(tracking_uri, result, root / "model"))
    return result

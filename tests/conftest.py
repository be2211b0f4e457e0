"""Session fixtures for every suite: a real MLflow server and a model trained by ``model/``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localrun.process_group import ServerGroup, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT_S = 120
TRAIN_TIMEOUT_S = 300


def isolated_env(**overrides: str) -> dict[str, str]:
    """The test environment without any ambient MLflow URI, plus ``overrides``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    return {**env, **overrides}


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real ``mlflow server`` on localhost: SQLite backend, proxied local artifacts."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--serve-artifacts",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server = ServerGroup(
        command,
        cwd=root,
        # Job execution (GenAI jobs) would spawn a dozen workers the tests never use.
        env=isolated_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),
        ready_urls=[f"{url}/health"],
        log_path=root / "server.log",
        startup_timeout=SERVER_START_TIMEOUT_S,
    )
    with server:
        yield url


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``python -m model train --json`` against a private SQLite store.

    Returns the command's JSON (see docs/contracts.md) plus ``local_model_dir``: the registered
    model downloaded to a local directory, ready for ``MODEL_URI``.
    """
    root = tmp_path_factory.mktemp("trained-model")
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


def download_model(tracking_uri: str, result: dict[str, Any], destination: Path) -> Path:
    """Fetch the registered version's files through MLflow alone (no import of ``model/``)."""
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    source = client.get_model_version_download_uri(result["model_name"], result["version"])
    destination.mkdir(parents=True, exist_ok=True)
    return Path(
        download_artifacts(
            artifact_uri=source, dst_path=str(destination), tracking_uri=tracking_uri
        )
    )

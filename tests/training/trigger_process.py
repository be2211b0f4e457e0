"""Runs the retrain trigger as its container does (`python -m continuous_training serve` with
the rendered Deployment's environment), from a copy of the image's `continuous_training/` so it
can import nothing else from the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests
from prometheus_process import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60


class TriggerProcess:
    def __init__(self, deployment: dict, *, token: str, kubeconfig: Path, workdir: Path) -> None:
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        self.command = [sys.executable, *container["command"][1:]]
        env = {}
        for variable in container["env"]:
            if "value" in variable:
                env[variable["name"]] = variable["value"]
            elif variable["valueFrom"].get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
                env[variable["name"]] = deployment["metadata"]["namespace"]
            elif variable["valueFrom"].get("secretKeyRef"):
                env[variable["name"]] = token
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")},
            **env,
            "RETRAIN_HOST": "127.0.0.1",
            "RETRAIN_PORT": str(self.port),
            "KUBECONFIG": str(kubeconfig),
        }
        self.app = workdir / "trigger-app"
        self.log = workdir / "trigger.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        shutil.copytree(
            REPO_ROOT / "continuous_training",
            self.app / "continuous_training",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        with self.log.open("w") as output:
            self._process = subprocess.Popen(
                self.command, cwd=self.app, env=self.env, stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"trigger exited:\n{self.log.read_text()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError(f"trigger not healthy after {START_TIMEOUT_S}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=20)

    def post(self, path: str, body, token: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return requests.post(f"{self.url}{path}", json=body, headers=headers, timeout=30)

"""Runs the retrain trigger as its container does (`python -m continuous_training serve` with
the rendered Deployment's environment), from a copy of the image's `continuous_training/` so it
can import nothing else from the repository. Its TLS Secret is a throwaway CA's certificate
for 127.0.0.1 (`ca_file`), which every client here verifies."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import requests

from localrun.process_group import ServerGroup, free_port
from localrun.tls_files import issue_tls_files

REPO_ROOT = Path(__file__).resolve().parent.parent

START_TIMEOUT_S = 60


class TriggerProcess(ServerGroup):
    def __init__(self, deployment: dict, *, token: str, kubeconfig: Path, workdir: Path) -> None:
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {}
        for variable in container["env"]:
            if "value" in variable:
                env[variable["name"]] = variable["value"]
            elif variable["valueFrom"].get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
                env[variable["name"]] = deployment["metadata"]["namespace"]
        # The token Secret's volume: the same file name under a local directory.
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "token"]
        token_file = (
            workdir
            / "token-volume"
            / Path(env["RETRAIN_TOKEN_FILE"]).relative_to(mount["mountPath"])
        )
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(token)
        env["RETRAIN_TOKEN_FILE"] = str(token_file)
        tls = issue_tls_files(workdir / "trigger-tls")
        env["RETRAIN_TLS_DIR"] = str(tls.directory)
        self.ca_file = tls.ca_file
        port = free_port()
        self.url = f"https://127.0.0.1:{port}"
        self.app = workdir / "trigger-app"
        self.log = workdir / "trigger.log"
        super().__init__(
            [sys.executable, *container["command"][1:]],
            cwd=self.app,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")},
                **env,
                "RETRAIN_HOST": "127.0.0.1",
                "RETRAIN_PORT": str(port),
                "KUBECONFIG": str(kubeconfig),
            },
            ready_urls=[f"{self.url}/healthz"],
            log_path=self.log,
            startup_timeout=START_TIMEOUT_S,
            ca_file=tls.ca_file,
        )

    def _prepare(self) -> None:
        shutil.copytree(
            REPO_ROOT / "continuous_training",
            self.app / "continuous_training",
            ignore=shutil.ignore_patterns("__pycache__"),
        )

    def post(self, path: str, body, token: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return requests.post(
            f"{self.url}{path}", json=body, headers=headers, timeout=30, verify=str(self.ca_file)
        )

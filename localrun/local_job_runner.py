"""A double of the Kubernetes Job controller for the loop demo (no cluster here): a Job the retrain
trigger creates through the API (localrun/kubernetes_api_double.py) runs its container's command
and args, unchanged but for the interpreter, as a local subprocess with the demo's environment
(the local MLflow, the ledger key) instead of the container's, which names cluster services.
When it ends, the Job gets the `Complete` or `Failed` condition the controller would set, so the
trigger's one-run-at-a-time check (continuous_training/job_from_cronjob.py) sees it finish."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 900


@dataclass
class LocalRun:
    """One Job's run: its name, the command run and, once it ended, exit code and output."""

    job: str
    command: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""


class LocalJobRunner:
    """`on_create` for the API double: starts each created Job's single container locally."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = env
        self.runs: list[LocalRun] = []
        self._started = threading.Condition()

    def __call__(self, job: dict) -> None:
        (container,) = job["spec"]["template"]["spec"]["containers"]
        if container["command"][0] != "python":
            raise ValueError(f"Job {job['metadata']['name']}: expected a `python` command")
        command = [sys.executable, *container["command"][1:], *container.get("args", [])]
        run = LocalRun(job["metadata"]["name"], command)
        with self._started:
            self.runs.append(run)
            self._started.notify_all()
        threading.Thread(target=self._run, args=(job, run), daemon=True).start()

    def _run(self, job: dict, run: LocalRun) -> None:
        try:
            done = subprocess.run(
                run.command, cwd=REPO_ROOT, env=self.env or dict(os.environ),
                capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
            )  # fmt: skip
            run.returncode, run.stdout, run.stderr = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as expired:
            run.returncode, run.stderr = -1, f"killed after {RUN_TIMEOUT_S}s: {expired}"
        condition = "Complete" if run.returncode == 0 else "Failed"
        job["status"] = {"conditions": [{"type": condition, "status": "True"}]}
        run.done.set()

    def wait_for_run(self, timeout: float) -> LocalRun:
        """The first run started, waiting up to `timeout` seconds for one."""
        deadline = time.monotonic() + timeout
        with self._started:
            while not self.runs:
                left = deadline - time.monotonic()
                if left <= 0 or not self._started.wait(left):
                    raise RuntimeError(f"no training Job was created within {timeout:.0f}s")
            return self.runs[0]

"""A server started in its own process group, awaited until ready and always stopped."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import requests


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerGroup:
    """Runs `command` with its output in `log_path`; ready once every URL answers 200."""

    def __init__(
        self,
        command: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        ready_urls: list[str],
        log_path: Path,
        startup_timeout: float,
    ) -> None:
        self.command = command
        self.cwd = cwd
        self.env = env
        self.ready_urls = ready_urls
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_ready()

    def stop(self) -> None:
        """SIGTERM the whole group, SIGKILL whatever is left after 20 s."""
        if self._process is None:
            return
        process, self._process = self._process, None
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        except ProcessLookupError:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        pending = list(self.ready_urls)
        while pending:
            if self._process is not None and self._process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.command[0]} exited early:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.command[0]} not ready in {self.startup_timeout}s:\n{self.log_tail()}"
                )
            try:
                if requests.get(pending[0], timeout=2).status_code == 200:
                    pending.pop(0)
                    continue
            except requests.ConnectionError:
                pass
            time.sleep(0.2)

    def __enter__(self) -> "ServerGroup":
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

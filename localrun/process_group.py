"""A server started in its own process group, awaited until ready and always stopped."""

import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import requests

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
"""Where the kernel takes client source ports and `bind(0)` ports from (Linux: 32768-60999)."""


def _below_ephemeral() -> range:
    low = int(EPHEMERAL_RANGE.read_text().split()[0]) if EPHEMERAL_RANGE.exists() else 32768
    return range(1024, low)


_handed_out: set[int] = set()
"""Ports this process already returned: a server may not have bound the last one yet (a model
server takes three in a row), so the probe alone could hand the same port out twice."""


def free_port() -> int:
    """A TCP port nothing listens on right now, chosen at random below the ephemeral range: a
    port from `bind(0)` comes from that range, so under concurrent load a client connection's
    source port could take it before the server binds it (EADDRINUSE)."""
    ports = _below_ephemeral()
    for _ in range(100):
        port = random.randrange(ports.start, ports.stop)
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free TCP port in {ports.start}-{ports.stop - 1} after 100 tries")


class ServerGroup:
    """Runs `command` with its output in `log_path`; ready once every URL answers 200
    (an https URL verified against `ca_file` when given).

    Subclasses set up files in `_prepare` and remove them in `_clean_up`.
    """

    def __init__(
        self,
        command: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        ready_urls: list[str],
        log_path: Path,
        startup_timeout: float,
        ca_file: Path | None = None,
    ) -> None:
        self.command = command
        self.verify: str | bool = str(ca_file) if ca_file else True
        self.cwd = cwd
        self.env = env
        self.ready_urls = ready_urls
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def _prepare(self) -> None:
        """Create what the command needs before it starts."""

    def _clean_up(self) -> None:
        """Remove what `_prepare` created, once the processes are gone."""

    def start(self) -> None:
        self.spawn()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the command in its own process group, without waiting until it is ready."""
        self._prepare()
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self._process

    def stop(self) -> None:
        """SIGTERM the whole group, SIGKILL whatever is left after 20 s, then clean up."""
        if self._process is not None:
            self._terminate(self._process)
            self._process = None
        self._clean_up()

    @staticmethod
    def _terminate(process: subprocess.Popen[bytes]) -> None:
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

    @property
    def pgid(self) -> int:
        """The process group of the running server (its leader's pid)."""
        if self._process is None:
            raise RuntimeError(f"{self.command[0]} is not running")
        return self._process.pid

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        pending = list(self.ready_urls)
        while pending:
            if self._process is not None and self._process.poll() is not None:
                self._fail("exited early")
            if time.monotonic() > deadline:
                self._fail(f"not ready in {self.startup_timeout}s")
            try:
                if requests.get(pending[0], timeout=2, verify=self.verify).status_code == 200:
                    pending.pop(0)
                    continue
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or too busy starting to answer within 2 s
            time.sleep(0.2)

    def _fail(self, what: str) -> None:
        message = f"{self.command[0]} {what}:\n{self.log_tail()}"
        self.stop()
        raise RuntimeError(message)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

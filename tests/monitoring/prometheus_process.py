"""Start and stop a real Prometheus server for a test, on a free port with its own storage."""

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml

READY_TIMEOUT_S = 60


def free_port() -> int:
    """A localhost TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_prometheus(
    binary: str,
    workdir: Path,
    scrape_configs: list[dict] | None = None,
    scrape_interval="1s",
    extra_config: dict | None = None,
) -> Iterator[str]:
    """Run Prometheus on `workdir/data` with the given scrape configs (and `extra_config`
    sections such as `rule_files` and `alerting`); yield its base URL."""
    config = workdir / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": scrape_interval, "evaluation_interval": "1s"},
                "scrape_configs": scrape_configs or [],
                **(extra_config or {}),
            }
        )
    )
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=30d",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"prometheus not ready after {READY_TIMEOUT_S}s:\n{log.read_text()}")


def query(url: str, expr: str, at: float | None = None) -> list[dict]:
    """Result vector of an instant query; fails on a Prometheus error."""
    params = {"query": expr, **({"time": str(at)} if at is not None else {})}
    body = requests.get(f"{url}/api/v1/query", params=params, timeout=30).json()
    assert body["status"] == "success", body
    return body["data"]["result"]

"""Start and stop a real Prometheus server for a test, on a free port with its own storage."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml

from localrun.process_group import ServerGroup, free_port

READY_TIMEOUT_S = 60


@contextmanager
def running_prometheus(
    binary: str, workdir: Path, scrape_configs: list[dict] | None = None, scrape_interval="1s"
) -> Iterator[str]:
    """Run Prometheus on `workdir/data` with the given scrape configs; yield its base URL."""
    config = workdir / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": scrape_interval, "evaluation_interval": "1s"},
                "scrape_configs": scrape_configs or [],
            }
        )
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=30d",
    ]
    server = ServerGroup(
        command,
        cwd=workdir,
        env=dict(os.environ),
        ready_urls=[f"{url}/-/ready"],
        log_path=workdir / "prometheus.log",
        startup_timeout=READY_TIMEOUT_S,
    )
    with server:
        yield url


def query(url: str, expr: str, at: float | None = None) -> list[dict]:
    """Result vector of an instant query; fails on a Prometheus error."""
    params = {"query": expr, **({"time": str(at)} if at is not None else {})}
    body = requests.get(f"{url}/api/v1/query", params=params, timeout=30).json()
    assert body["status"] == "success", body
    return body["data"]["result"]

"""A real Prometheus on a free local port with its own storage, started and always stopped."""

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import requests
import yaml

from localrun.process_group import ServerGroup, free_port

READY_TIMEOUT_S = 60


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
    url = f"http://127.0.0.1:{port}"
    server = ServerGroup(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=30d",
        ],
        cwd=workdir,
        env=dict(os.environ),
        ready_urls=[f"{url}/-/ready"],
        log_path=workdir / "prometheus.log",
        startup_timeout=READY_TIMEOUT_S,
    )
    with server:
        yield url


def wait_for_first_scrapes(url: str, targets: int, timeout: float = READY_TIMEOUT_S) -> None:
    """Return once Prometheus has scraped `targets` targets successfully (its first scrape comes
    seconds after it is ready; counts from before it would have no sample to start from)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(f"{url}/api/v1/query", params={"query": "sum(up)"}, timeout=10).json()
        result = body.get("data", {}).get("result", [])
        if result and float(result[0]["value"][1]) >= targets:
            return
        time.sleep(0.2)
    raise TimeoutError(f"Prometheus at {url} did not scrape {targets} targets in {timeout:.0f}s")


def wait_for_scrapes_after(url: str, moment: float, timeout: float = READY_TIMEOUT_S) -> None:
    """Return once every active target's samples from after `moment` (Unix seconds) are stored:
    each target has started a scrape after `moment` and then the next one. A target's scrapes
    run one after another, so the next one starting means the first was committed (a fixed
    sleep is too short on a loaded machine, and a look taken early counts one target's counter
    after a round and another's before it)."""
    deadline = time.monotonic() + timeout
    first_after: dict[str, float] = {}
    while time.monotonic() < deadline:
        body = requests.get(
            f"{url}/api/v1/targets", params={"state": "active"}, timeout=10
        ).json()
        targets = body["data"]["activeTargets"]
        done = 0
        for target in targets:
            started = datetime.fromisoformat(target["lastScrape"]).timestamp()
            key = target["scrapeUrl"]
            if key not in first_after and started > moment:
                first_after[key] = started
            done += key in first_after and started > first_after[key]
        if targets and done == len(targets):
            return
        time.sleep(0.2)
    raise TimeoutError(f"Prometheus at {url} did not scrape every target twice in {timeout:.0f}s")

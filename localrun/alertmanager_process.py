"""Debian's real Alertmanager on a free port, clustering off, started and always stopped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from localrun.process_group import ServerGroup, free_port

READY_TIMEOUT_S = 60


@contextmanager
def running_alertmanager(binary: str, workdir: Path, config: dict) -> Iterator[str]:
    """Run Alertmanager with `config`; yield its base URL."""
    config_file = workdir / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = ServerGroup(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.path={workdir / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        cwd=workdir,
        env=dict(os.environ),
        ready_urls=[f"{url}/-/ready"],
        log_path=workdir / "alertmanager.log",
        startup_timeout=READY_TIMEOUT_S,
    )
    with server:
        yield url

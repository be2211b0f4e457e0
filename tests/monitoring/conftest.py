"""Shared setup of the monitoring tests: the deployment under test and the Prometheus tools."""

import shutil

import pytest

from infra.model_monitoring.config import MonitoringConfig


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} not found on PATH: install Debian's 'prometheus' package (see .ci/run)"
        )
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of promtool."""
    return _tool("promtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """Path of the prometheus server."""
    return _tool("prometheus")


@pytest.fixture(scope="session")
def monitoring_config() -> MonitoringConfig:
    """The defaults the stacks get when they set no monitoring keys."""
    return MonitoringConfig()

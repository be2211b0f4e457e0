"""Shared setup of the monitoring tests: the deployment under test and the Prometheus tools."""

import pytest

from infra.model_monitoring.config import MonitoringConfig
from tests.support.tools import required_tool


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of promtool."""
    return required_tool("promtool", package="prometheus")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """Path of the prometheus server."""
    return required_tool("prometheus", package="prometheus")


@pytest.fixture(scope="session")
def monitoring_config() -> MonitoringConfig:
    """The defaults the stacks get when they set no monitoring keys."""
    return MonitoringConfig()

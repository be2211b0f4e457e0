"""Shared setup of the continuous-training tests: renders, the trigger process, the API double."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from localrun.kubernetes_api_double import KubernetesApiDouble, running_api_double
from localrun.trigger_process import TriggerProcess
from tests.support.tools import required_tool
from tests.training.support import of_kind, rendered_objects


@pytest.fixture(scope="session")
def prod_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory `python -m stacks.render --stack prod` wrote."""
    directory = tmp_path_factory.mktemp("render-prod")
    rendered_objects("prod", directory)
    return directory


@pytest.fixture(scope="session")
def rendered_prod(prod_render: Path) -> dict[str, dict]:
    return {
        path.name: yaml.safe_load(path.read_text()) for path in sorted(prod_render.glob("*.yaml"))
    }


@pytest.fixture(scope="session")
def alertmanager_binary() -> str:
    return required_tool(
        "prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager"
    )


@pytest.fixture(scope="session")
def amtool_binary() -> str:
    return required_tool("amtool", package="prometheus-alertmanager")


@pytest.fixture(scope="session")
def prometheus_server_binary() -> str:
    return required_tool("prometheus", package="prometheus")


@pytest.fixture
def api_double() -> Iterator[KubernetesApiDouble]:
    with running_api_double() as double:
        yield double


@pytest.fixture
def trigger_for(tmp_path: Path, api_double: KubernetesApiDouble):
    """Start the real trigger for a rendered stack: its Deployment's env, our token and the API
    double; the rendered CronJobs are served by the double. Returns the running process."""
    started: list[TriggerProcess] = []

    def start(objects: dict[str, dict], token: str) -> TriggerProcess:
        for cronjob in of_kind(objects, "CronJob"):
            api_double.add_cronjob(cronjob)
        (deployment,) = [
            d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] == "retrain-trigger"
        ]
        process = TriggerProcess(
            deployment,
            token=token,
            kubeconfig=api_double.kubeconfig(tmp_path, "service-account-token"),
            workdir=tmp_path,
        )
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()

"""Shared setup of the continuous-training tests: renders, the trigger process, the API double."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes_api_double import KubernetesApiDouble, running_api_double
from trigger_process import TriggerProcess

from infra.cluster.kind_images import DEFAULT_NODE_IMAGE

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBERNETES_VERSION = re.search(r":v(\d+\.\d+)\.", DEFAULT_NODE_IMAGE).group(1)
"""The API of the pinned kind node, which objects are validated against (as tests/stacks)."""


def rendered_objects(stack: str, directory: Path, *extra: str) -> dict[str, dict]:
    """File name -> Kubernetes object (the render's top level) of `python -m stacks.render`."""
    result = subprocess.run(
        [sys.executable, "-m", "stacks.render", "--stack", stack, "--out", str(directory), *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return {
        path.name: yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yaml"))
    }


def of_kind(objects: dict[str, dict], kind: str) -> list[dict]:
    return [o for o in objects.values() if o["kind"] == kind]


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


def _tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    pytest.fail(f"{names[0]} not found on PATH: install Debian's package of it (see .ci/run)")


@pytest.fixture(scope="session")
def alertmanager_binary() -> str:
    return _tool("prometheus-alertmanager", "alertmanager")


@pytest.fixture(scope="session")
def amtool_binary() -> str:
    return _tool("amtool")


@pytest.fixture(scope="session")
def prometheus_server_binary() -> str:
    return _tool("prometheus")


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

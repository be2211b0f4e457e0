"""A real MLflow registry (iris champion v1, candidate v2 exposed as challenger) and a stack file
with a rollout plan in a clone of a local bare Git repository, the forge double
(`LocalBareRepoForge`) the rollout command proposes its changes to."""

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from localrun.local_forge import seeded_forge
from model.promotion import expose, promote
from model.store import Store
from release.pinning import lock_from_store
from release.pins import dump_pins
from tests.support.stacks import REPO_ROOT

ROLLOUT = (
    "      rollout: {steps: [10, 50, 100], minStepDuration: 10m,"
    " guardrails: {maxShadowDisagreement: 0.05}}  # canary plan\n"
)


def _train(tracking_uri: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "model", "train", "--json", "--tracking-uri", tracking_uri],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> str:
    """A tracking URI whose `iris` has champion version 1 and challenger version 2 (trained,
    so the `candidate`, then exposed)."""
    root = tmp_path_factory.mktemp("rollout-registry")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    _train(tracking_uri)
    promote("iris", "1", tracking_uri=tracking_uri, reason="first champion")
    _train(tracking_uri)
    expose("iris", tracking_uri=tracking_uri, reason="the rollout tests' challenger")
    return tracking_uri


def champion_version(tracking_uri: str) -> str:
    client = MlflowClient(tracking_uri=tracking_uri)
    return str(client.get_model_version_by_alias("iris", "champion").version)


def stack_with_rollout(directory: Path) -> Path:
    """A copy of Pulumi.dev.yaml whose iris splits 90/10 and declares a 10/50/100 rollout."""
    text = (REPO_ROOT / "Pulumi.dev.yaml").read_text()
    head, _, tail = text.partition("      predictors:\n")
    assert tail, "Pulumi.dev.yaml no longer has an iris predictors list"
    head = head.partition("      rollout:\n")[0]  # dev's own plan gives way to this one
    tail = tail.replace("traffic: 50", "traffic: 90", 1).replace("traffic: 50", "traffic: 10", 1)
    path = directory / "Pulumi.dev.yaml"
    path.write_text(head + ROLLOUT + "      predictors:\n" + tail)
    return path


def rollout_checkout(directory: Path, tracking_uri: str) -> Path:
    """`stack_with_rollout` with its pins (champion v1, challenger and shadow v2, digests from
    the registry) on `main` of the forge double `forge.git`, and the stack file of its clone,
    the checkout the rollout job runs in."""
    stack = stack_with_rollout(directory)
    lock = lock_from_store(stack, Store.open(tracking_uri))
    files = {stack.name: stack.read_text(), "pins.dev.yaml": dump_pins(lock)}
    work, _ = seeded_forge(directory / "forge", files)
    return work / stack.name


def traffic_of(stack_file: Path) -> dict[str, int]:
    """Live predictors' traffic of iris as the real stack loader reads the file."""
    from infra.stack_config import load_stack_file

    (iris,) = [d for d in load_stack_file(stack_file).deployments if d.name == "iris"]
    return {p.name: p.traffic for p in iris.predictors if not p.shadow}

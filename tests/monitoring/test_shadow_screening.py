"""The canary starts only when the shadow has screened the candidate: `python -m stacks.rollout`
against a real Prometheus holding the shadow's comparison counters (backfilled with promtool, as
the model server exports them) and a real MLflow registry with its signed ledger.

Series over the 60 minutes before END, per minute: the shadow compared 100 mirrored rows with
the champion; it disagreed on 30 of them for the first 30 minutes, on none for the last 30. The
stack's plan has `minStepDuration: 30m` and `maxShadowDisagreement: 0.1`: judged at END - 30m
the shadow disagreed on 900 of 3000 rows (30 %), refused; at END on 0 of 3000, exposed. The
exposure is a reviewed change proposed to a local bare repository standing in for the forge
(`LocalBareRepoForge`, MLOPS_FORGE=local), which merges it at once; the checkout then pulls it.
"""

import json
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
import yaml

from localrun.local_forge import git, seeded_forge
from model import promotion
from model.registry import alias_version
from model.store import Store
from release.pinning import registered_pin
from release.pins import PinLock, dump_pins, pin_file_for, read_pins
from stacks.rollout import main
from tests.monitoring.prometheus_process import running_prometheus
from tests.support.mlflow_server import isolated_env
from tests.support.stacks import REPO_ROOT

COMPARED, DISAGREEING = "mlops_model_shadow_compared_rows", "mlops_model_shadow_disagreeing_rows"


def _series(end: int) -> str:
    labels = ('namespace="seldon",deployment_name="iris",predictor_name="shadow",'
              'method="predict",reference_version="1"')  # fmt: skip
    lines = [f"# TYPE {COMPARED} counter"]
    lines += [f"{COMPARED}_total{{{labels}}} {m * 100} {end - (60 - m) * 60}" for m in range(61)]
    lines.append(f"# TYPE {DISAGREEING} counter")
    lines += [f"{DISAGREEING}_total{{{labels}}} {min(m, 30) * 30} {end - (60 - m) * 60}"
              for m in range(61)]  # fmt: skip
    return "\n".join([*lines, "# EOF"]) + "\n"


@pytest.fixture(scope="module")
def prometheus(promtool, prometheus_binary, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("screening-prometheus")
    end = int(time.time()) // 60 * 60 - 120
    source = workdir / "series.om"
    source.write_text(_series(end))
    command = [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source)]
    subprocess.run([*command, str(workdir / "data")], check=True, capture_output=True, timeout=120)
    with running_prometheus(prometheus_binary, workdir) as url:
        yield url, end


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> str:
    """iris version 1 the champion, version 2 the candidate (both trained by the real CLI)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('screening-registry') / 'mlflow.db'}"
    for _ in range(2):
        trained = subprocess.run(
            [sys.executable, "-m", "model", "train", "--json", "--tracking-uri", uri],
            cwd=REPO_ROOT, env=isolated_env(), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert trained.returncode == 0, trained.stderr
    promotion.promote("iris", "1", tracking_uri=uri, reason="first champion")
    return uri


@pytest.fixture()
def stack_file(tmp_path, registry, monkeypatch):
    """dev's stack file between rollouts (the champion takes all live traffic, 30 m steps) and
    its pins (champion and challenger at version 1, the shadow at the candidate 2), in a clone
    of the forge double."""
    document = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())
    (iris,) = document["config"]["mlops-platform:deployments"]
    iris["rollout"]["minStepDuration"] = "30m"
    for predictor in iris["predictors"]:
        if not predictor.get("shadow"):
            predictor["traffic"] = 100 if predictor["name"] == "champion" else 0
    store = Store.open(registry)
    pins = PinLock(stack="dev", merge="auto", deployments={"seldon/iris": {
        "champion": registered_pin(store, "iris", "1", "champion"),
        "challenger": registered_pin(store, "iris", "1", "challenger"),
        "shadow": registered_pin(store, "iris", "2", "candidate"),
    }})  # fmt: skip
    files = {"Pulumi.dev.yaml": yaml.safe_dump(document), "pins.dev.yaml": dump_pins(pins)}
    work, _ = seeded_forge(tmp_path / "forge", files)
    monkeypatch.setenv("MLOPS_FORGE", "local")
    return work / "Pulumi.dev.yaml"


def _step(capsys, prometheus, registry, stack_file, at: int) -> dict:
    url, _ = prometheus
    code = main(["--stack-file", str(stack_file), "--prometheus-url", url, "--tracking-uri",
                 registry, "--now", datetime.fromtimestamp(at, UTC).isoformat(), "--actor",
                 "rollout-bot", "--json"])  # fmt: skip
    output = json.loads(capsys.readouterr().out)
    assert code == 0, output
    (step,) = output["rollouts"]
    return step


def test_the_canary_waits_for_a_screening_within_the_bound_then_starts(
    capsys, prometheus, registry, stack_file
):
    _, end = prometheus
    before = stack_file.read_text()
    refused = _step(capsys, prometheus, registry, stack_file, end - 1800)
    assert (refused["action"], refused["candidate"]) == ("refused", "2")
    assert (refused["screening"]["compared"], refused["screening"]["disagreeing"]) == (3000, 900)
    assert "900 of 3000 mirrored rows (30.00%), above the bound" in refused["reason"]
    assert stack_file.read_text() == before, "a refused exposure edits nothing"
    assert alias_version(Store.open(registry), "iris", "challenger") is None

    exposed = _step(capsys, prometheus, registry, stack_file, end)
    assert (exposed["action"], exposed["traffic"]) == ("expose", 10)
    assert (exposed["screening"]["compared"], exposed["screening"]["disagreeing"]) == (3000, 0)
    assert exposed["split"] == {"challenger": 10, "champion": 90}
    assert alias_version(Store.open(registry), "iris", "challenger") == "2"
    last = promotion.history("iris", tracking_uri=registry)[-1]
    assert (last.action, last.from_version, last.to_version, last.state) == (
        "expose", None, "2", "committed")  # fmt: skip
    assert last.evidence["screening"]["disagreeing"] == 0
    assert exposed["change_request"]["kind"] == "rollout"
    git(stack_file.parent, "pull", "-q", "--ff-only")
    assert read_pins(pin_file_for(stack_file)).pin("seldon/iris", "challenger").version == "2"

    again = _step(capsys, prometheus, registry, stack_file, end)
    assert again["action"] == "start", "the next run records the rollout's start at 10 %"

"""The champion guard against a real Prometheus holding known series (backfilled with promtool,
shaped as the executor and the model server emit them) and a real MLflow registry with its
signed ledger: a champion holding its promotion baseline is left alone; one whose feedback
success fell from 0.9 to 0.5 and whose 5xx ratio rose is rolled back through the ledger.

Series over the 60 minutes before END, per minute: `iris` champion 200 answered, 10 failed,
25 feedbacks with 12.5 rewarded on average (success 0.5, 5xx 4.8 %); the baseline recorded at its
promotion was success 0.9, 5xx 0.5 %, p95 0.1 s (the latency bucket of the series)."""

import json
import subprocess
import sys
import time

import pytest
import yaml
from openmetrics_backfill import Traffic, backfill
from prometheus_process import running_prometheus

from analysis.champion_guard import Baseline, GuardPolicy, judge
from analysis.evidence import PredictorCounts
from model import promotion
from stacks.guard import main
from tests.conftest import REPO_ROOT, isolated_env

BASELINE = {"error_ratio": 0.005, "p95_latency_seconds": 0.1, "success_rate": 0.9}


@pytest.fixture(scope="module")
def prometheus(promtool, prometheus_binary, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("guard-prometheus")
    end = int(time.time()) // 60 * 60 - 120
    degraded = Traffic("iris", "champion", ok_per_minute=200, errors_per_minute=10,
                       feedback_per_minute=25, reward_per_minute=12)  # fmt: skip
    backfill(promtool, [degraded], end, workdir / "data")
    with running_prometheus(prometheus_binary, workdir) as url:
        yield url, end


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> str:
    """iris versions 1 and 2 trained by the real CLI; 2 promoted with the baseline evidence."""
    root = tmp_path_factory.mktemp("guard-registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    for _ in range(2):
        trained = subprocess.run(
            [sys.executable, "-m", "model", "train", "--json", "--tracking-uri", uri],
            cwd=REPO_ROOT, env=isolated_env(), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert trained.returncode == 0, trained.stderr
    promotion.promote("iris", "1", tracking_uri=uri, reason="first champion")
    promotion.promote("iris", "2", tracking_uri=uri, reason="rollout of iris: promote",
                      evidence={"baseline": BASELINE})  # fmt: skip
    return uri


@pytest.fixture()
def stack_file(tmp_path):
    """dev's stack file after a finished rollout: the champion takes all live traffic."""
    document = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())
    (iris,) = document["config"]["mlops-platform:deployments"]
    for predictor in iris["predictors"]:
        if not predictor.get("shadow"):
            predictor["traffic"] = 100 if predictor["name"] == "champion" else 0
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _guard(capsys, prometheus, registry, stack_file, *extra: str) -> dict:
    url, end = prometheus
    code = main(["--stack-file", str(stack_file), "--prometheus-url", url, "--tracking-uri",
                 registry, "--now", str(end), "--json", *extra])  # fmt: skip
    output = json.loads(capsys.readouterr().out)
    assert code == 0, output
    (check,) = output["guard"]
    return check


def test_a_champion_within_lenient_limits_holds(capsys, prometheus, registry, stack_file):
    check = _guard(capsys, prometheus, registry, stack_file,
                   "--accuracy-drop", "0.5", "--error-ratio-increase", "0.1")  # fmt: skip
    assert (check["action"], check["version"]) == ("hold", "2")
    assert promotion.history("iris", tracking_uri=registry)[-1].action == "promote"


def test_a_degraded_champion_is_rolled_back_through_the_ledger(
    capsys, prometheus, registry, stack_file
):
    check = _guard(capsys, prometheus, registry, stack_file)
    assert check["action"] == "rollback", check
    checks = {c["name"]: c["passed"] for c in check["verdict"]["checks"]}
    assert checks == {"error_ratio": False, "p95_latency": True, "accuracy": False}
    last = promotion.history("iris", tracking_uri=registry)[-1]
    assert (last.action, last.from_version, last.to_version, last.state) == (
        "rollback", "2", "1", "committed")  # fmt: skip
    assert last.reason.startswith("champion guard: error_ratio: 4.76% of 12600 requests")
    assert check["change_request"] == {}, "the stack has no pin file: nothing in Git to change"


def test_the_verdict_is_exact_on_counts() -> None:
    """12600 requests of which 600 failed (4.76 %), 1500 feedbacks with 720 rewarded (48 %)."""
    observed = PredictorCounts(requests=12600, errors=600, feedback=1500, reward=720,
                               p95_latency_seconds=0.1)  # fmt: skip
    verdict = judge(Baseline.from_dict(BASELINE), observed, GuardPolicy())
    assert verdict.breaches == [
        "error_ratio: 4.76% of 12600 requests failed, limit 1.50% (baseline 0.50%)",
        "accuracy: feedback success 48.00% over 1500 feedbacks, floor 85.00% (baseline 90.00%)",
    ]
    quiet = PredictorCounts(requests=99, errors=99, feedback=0, reward=0)
    assert not judge(Baseline.from_dict(BASELINE), quiet, GuardPolicy()).judged
    no_feedback = PredictorCounts(requests=100, errors=0, feedback=0, reward=0)
    lenient = GuardPolicy(min_feedback=0)
    checks = judge(Baseline.from_dict(BASELINE), no_feedback, lenient).checks
    assert [c.name for c in checks] == ["error_ratio"], "no feedback: accuracy is not judged"

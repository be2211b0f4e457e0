"""`python -m model abtest` against a real Prometheus holding known, backfilled series.

Every scenario is one deployment; counts are per minute over the 60 minutes before END:
- iris: 200 ok requests each; feedback 25/min each, rewards 17 (champion, rate 0.68) and 20
  (challenger, 0.80). With --min-effect 0.05 the test needs 1028 feedbacks per arm:
  (1.6449*sqrt(2*0.705*0.295) + 0.8416*sqrt(0.68*0.32 + 0.73*0.27))^2 / 0.05^2 = 1027.6.
- too-few: as iris but only the last 10 minutes (250 feedbacks per arm, 778 short).
- slow: as iris, but the challenger's latency is in (0.75, 1] s against (0.075, 0.1] s.
- worse: no feedback; challenger answers 10 of 200 requests per minute with 500.
- equal: no feedback, no errors on either side.
"""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient
from openmetrics_backfill import Traffic, backfill
from prometheus_process import running_prometheus

from infra.stack_config import load_stack_file
from model.cli import main
from model.promotion import history, promote

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY = ["--window", "1h", "--min-effect", "0.05"]


def _scenarios() -> list[Traffic]:
    feedback = {"ok_per_minute": 200, "feedback_per_minute": 25}
    return [
        Traffic("iris", "champion", reward_per_minute=17, **feedback),
        Traffic("iris", "challenger", reward_per_minute=20, **feedback),
        Traffic("too-few", "champion", reward_per_minute=17, minutes=10, **feedback),
        Traffic("too-few", "challenger", reward_per_minute=20, minutes=10, **feedback),
        Traffic("slow", "champion", reward_per_minute=17, **feedback),
        Traffic("slow", "challenger", reward_per_minute=20, latency_bucket=1, **feedback),
        Traffic("worse", "champion", ok_per_minute=200),
        Traffic("worse", "challenger", ok_per_minute=190, errors_per_minute=10),
        Traffic("equal", "champion", ok_per_minute=200),
        Traffic("equal", "challenger", ok_per_minute=200),
    ]


@pytest.fixture(scope="module")
def prometheus(promtool, prometheus_binary, tmp_path_factory):
    """(URL, END): a Prometheus serving the backfilled scenarios, which end at END."""
    workdir = tmp_path_factory.mktemp("ab-prometheus")
    end = int(time.time()) // 60 * 60 - 120
    backfill(promtool, _scenarios(), end, workdir / "data")
    with running_prometheus(prometheus_binary, workdir) as url:
        yield url, end


def _abtest(capsys, prometheus, deployment: str, *extra: str) -> tuple[int, dict]:
    url, end = prometheus
    code = main(
        [
            "abtest",
            "--prometheus-url",
            url,
            "--deployment",
            deployment,
            "--at",
            str(end),
            *POLICY,
            "--json",
            *extra,
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_better_challenger_with_enough_feedback_is_promoted(capsys, prometheus):
    code, result = _abtest(capsys, prometheus, "iris")
    assert code == 0
    assert result["verdict"] == "promote"
    assert result["method"] == "one-sided two-proportion z-test (pooled variance)"
    assert result["metric"] == "feedback success rate"
    assert result["significance_level"] == 0.05
    champion, challenger = result["champion"], result["challenger"]
    assert (champion["successes"], champion["trials"]) == (1020, 1500)
    assert (challenger["successes"], challenger["trials"]) == (1200, 1500)
    assert champion["needed"] == 1028
    assert result["p_value"] < 1e-9
    assert all(guardrail["passed"] for guardrail in result["guardrails"])


def test_too_few_samples_refuses_to_decide_and_says_how_many_more(capsys, prometheus):
    code, result = _abtest(capsys, prometheus, "too-few")
    assert code == 3
    assert result["verdict"] == "insufficient-data"
    assert result["champion"]["trials"] == result["challenger"]["trials"] == 250
    assert "champion needs 778 more answered feedback requests" in result["recommendation"]
    assert "challenger needs 778 more answered feedback requests" in result["recommendation"]
    assert result["p_value"] is None


def test_better_but_slower_challenger_is_kept_out_by_the_latency_guardrail(capsys, prometheus):
    code, result = _abtest(capsys, prometheus, "slow")
    assert code == 0
    assert result["verdict"] == "keep-champion"
    assert result["p_value"] < 0.05
    latency = next(g for g in result["guardrails"] if g["name"] == "latency")
    assert not latency["passed"]
    assert "fails latency" in result["recommendation"]


def test_without_feedback_availability_decides_and_more_errors_keep_the_champion(
    capsys, prometheus
):
    code, result = _abtest(capsys, prometheus, "worse")
    assert code == 0
    assert result["metric"] == "availability"
    assert result["verdict"] == "keep-champion"
    assert result["challenger"]["rate"] == pytest.approx(0.95)
    assert "significantly worse" in result["recommendation"]


def test_no_difference_keeps_the_champion(capsys, prometheus):
    code, result = _abtest(capsys, prometheus, "equal")
    assert result["verdict"] == "keep-champion"
    assert result["p_value"] == 0.5
    assert "not significantly better" in result["recommendation"]


def test_human_output_states_method_level_and_recommendation(capsys, prometheus):
    url, end = prometheus
    code = main(
        ["abtest", "--prometheus-url", url, "--deployment", "iris", "--at", str(end), *POLICY]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "one-sided two-proportion z-test (pooled variance)" in text
    assert "significance level 0.05" in text
    assert "recommendation: promote challenger" in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--prometheus-url", "http://127.0.0.1:9"], "cannot reach Prometheus at"),
        (["--window", "an hour"], "--window 'an hour' is not a Prometheus duration"),
        (["--alpha", "0.7"], "significance level must be in (0, 0.5)"),
        (["--apply"], "--apply needs --stack-file"),
    ],
)
def test_bad_input_is_refused_with_what_was_expected(capsys, prometheus, arguments, message):
    url, end = prometheus
    code = main(
        ["abtest", "--prometheus-url", url, "--deployment", "iris", "--at", str(end), *arguments]
    )
    assert code == 1
    assert message in capsys.readouterr().err


def _train(tracking_uri: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "model", "train", "--json", "--tracking-uri", tracking_uri],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> str:
    """A tracking URI whose `iris` has champion version 1 and challenger version 2."""
    root = tmp_path_factory.mktemp("ab-registry")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    _train(tracking_uri)
    promote("iris", "1", tracking_uri=tracking_uri, reason="first champion")
    _train(tracking_uri)
    return tracking_uri


@pytest.fixture
def stack_file(tmp_path) -> Path:
    """A copy of the dev stack (champion follows `iris@champion`, challenger `iris@challenger`)."""
    path = tmp_path / "Pulumi.dev.yaml"
    shutil.copy(REPO_ROOT / "Pulumi.dev.yaml", path)
    return path


def _champion(tracking_uri: str) -> str:
    client = MlflowClient(tracking_uri=tracking_uri)
    return str(client.get_model_version_by_alias("iris", "champion").version)


def test_apply_refuses_a_stack_of_another_deployment_and_changes_nothing(
    capsys, prometheus, registry, stack_file
):
    stack_file.write_text(stack_file.read_text().replace("- name: iris", "- name: x"))
    before = stack_file.read_text()
    code = main(
        ["abtest", "--prometheus-url", prometheus[0], "--deployment", "iris", "--at",
         str(prometheus[1]), *POLICY, "--apply", "--stack-file", str(stack_file),
         "--tracking-uri", registry]
    )  # fmt: skip
    assert code == 1
    assert "declares deployments ['x'], but the A/B test ran on 'iris'" in capsys.readouterr().err
    assert stack_file.read_text() == before
    assert _champion(registry) == "1"


def test_apply_keep_verdict_changes_nothing(capsys, prometheus, registry, stack_file):
    before = stack_file.read_text()
    code, result = _abtest(
        capsys, prometheus, "equal", "--apply", "--stack-file", str(stack_file),
        "--tracking-uri", registry,
    )  # fmt: skip
    assert code == 0 and "applied" not in result
    assert stack_file.read_text() == before
    assert _champion(registry) == "1"


def test_apply_promotes_records_and_moves_the_traffic_in_one_step(
    capsys, prometheus, registry, stack_file
):
    before = stack_file.read_text().splitlines()
    code, result = _abtest(
        capsys, prometheus, "iris", "--apply", "--stack-file", str(stack_file),
        "--tracking-uri", registry, "--actor", "ab-bot",
    )  # fmt: skip
    assert code == 0
    assert _champion(registry) == "2"
    entry = history("iris", tracking_uri=registry)[-1]
    assert (entry.from_version, entry.to_version, entry.actor) == ("1", "2", "ab-bot")
    assert entry.evidence["ab_test"]["verdict"] == "promote"
    assert entry.evidence["traffic"] == {"champion": 100, "challenger": 0}
    assert result["applied"]["ledger"]["sequence"] == entry.sequence
    after = stack_file.read_text().splitlines()
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed == [
        ("          traffic: 50", "          traffic: 100"),
        ("          traffic: 50", "          traffic: 0"),
    ]
    (serving,) = load_stack_file(stack_file).deployments
    assert {p.name: p.traffic for p in serving.predictors if not p.shadow} == {
        "champion": 100,
        "challenger": 0,
    }

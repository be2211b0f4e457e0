"""The e2e harness without a cluster: its expectations come from a real render of the kind
stack, its judgements are checked on answers shaped like Prometheus', Grafana's and Seldon's
APIs, and its command line refuses what it cannot run. The steps that need a cluster (Docker,
kind, the Pulumi CLI) cannot run here; `make e2e` runs them in CI (.github/workflows/e2e.yml)."""

import subprocess
import sys
from pathlib import Path

import pytest

from e2e import checks
from e2e.__main__ import STEPS, TEARDOWN
from e2e.cluster import StepFailed, run
from e2e.expectations import Deployment, from_render
from tests.support.stacks import REPO_ROOT

KIND_STACKS = sorted(
    p.name.removeprefix("Pulumi.").removesuffix(".yaml")
    for p in REPO_ROOT.glob("Pulumi.*.yaml")
    if "mlops-platform:createKindCluster: true" in p.read_text()
)
IRIS = Deployment("seldon", "iris", ("champion", "challenger", "shadow"), "shadow")


@pytest.fixture(scope="module")
def kind_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("e2e") / "render"
    result = subprocess.run(
        [sys.executable, "-m", "stacks.render", "--stack", KIND_STACKS[0], "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return out


def test_expectations_come_from_the_render(kind_render: Path) -> None:
    expected = from_render(kind_render)
    assert expected.deployments
    for deployment in expected.deployments:
        assert deployment.live and deployment.shadow not in deployment.live
    assert expected.rule_groups and len(expected.dashboard_titles) >= 3


def test_a_render_without_seldon_deployments_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="declares no SeldonDeployment"):
        from_render(tmp_path)


def prometheus_vector(**values: float) -> dict:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"predictor_name": name}, "value": [1.0, str(value)]}
                for name, value in values.items()
            ],
        },
    }


def test_series_for_every_predictor_pass_and_a_silent_shadow_is_named() -> None:
    everyone = checks.series_by_predictor(prometheus_vector(champion=5, challenger=4, shadow=9))
    metric = checks.EXECUTOR_REQUESTS
    assert checks.metric_problems(metric, everyone, IRIS, IRIS.predictors) == []
    silent = checks.series_by_predictor(prometheus_vector(champion=5, challenger=4, shadow=0))
    (problem,) = checks.metric_problems(metric, silent, IRIS, IRIS.predictors)
    assert "seldon/iris" in problem and "'shadow'" in problem


def test_a_failed_prometheus_query_is_an_error() -> None:
    with pytest.raises(ValueError, match="query failed"):
        checks.series_by_predictor({"status": "error", "error": "parse error"})


def test_who_answered_reads_the_response_tags() -> None:
    assert checks.who_answered({"meta": {"tags": {"predictor": "challenger"}}}) == "challenger"
    assert checks.who_answered({"meta": {"tags": {"model_version": "3"}}}) == "version 3"
    with pytest.raises(ValueError, match="no meta.tags"):
        checks.who_answered({"data": {}})


def test_a_live_predictor_that_never_answered_is_named() -> None:
    assert checks.split_problems(["champion", "challenger", "champion"], IRIS) == []
    (problem,) = checks.split_problems(["champion"] * 10, IRIS)
    assert "challenger" in problem
    assert checks.split_problems([], IRIS) == ["iris: no prediction answered"]


def test_rules_and_dashboards_are_looked_up_by_name() -> None:
    rules = {"status": "success", "data": {"groups": [{"name": "iris.serving"}]}}
    assert checks.rule_problems(rules, ["iris.serving"]) == []
    assert checks.rule_problems(rules, ["iris.drift"]) == [
        "rule group 'iris.drift' is not loaded (loaded: ['iris.serving'])"
    ]
    search = [{"type": "dash-db", "title": "Iris A/B"}, {"type": "dash-folder", "title": "X"}]
    assert checks.dashboard_problems(search, ["Iris A/B"]) == []
    assert checks.dashboard_problems(search, ["X"]) == ["dashboard 'X' is not in Grafana"]


def test_a_bad_request_must_be_a_400() -> None:
    assert checks.bad_request_problems(400, '{"status": {"code": 400}}') == []
    assert "answered 500" in checks.bad_request_problems(500, "Internal Server Error")[0]


def test_steps_run_in_the_issue_order_with_teardown_last() -> None:
    order = list(STEPS)
    assert order.index("up") < order.index("train") < order.index("roll-out")
    assert order.index("roll-out") < order.index("predict") < order.index("metrics")
    assert tuple(order[-len(TEARDOWN) :]) == TEARDOWN


def e2e(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "e2e", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_without_the_tools_it_stops_after_preflight_with_what_is_missing(tmp_path: Path) -> None:
    no_tools = {"PATH": str(tmp_path), "HOME": str(tmp_path)}  # no kind, Docker, Pulumi, kubectl

    result = e2e("--stack", KIND_STACKS[0], env=no_tools)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "'kind' not found on PATH" in result.stderr
    assert "e2e cannot start: missing prerequisites (nothing was created)" in result.stderr
    assert "== e2e step" not in result.stderr, "no step (and no teardown) may run"


def test_a_command_that_is_not_installed_fails_the_step_by_name(tmp_path: Path) -> None:
    with pytest.raises(StepFailed, match="`kind` is not installed.*kind.sigs.k8s.io"):
        run("kind", "delete", "cluster", env={"PATH": str(tmp_path)})


def test_the_command_line_lists_steps_and_refuses_unknown_ones() -> None:
    listed = e2e("--list")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == list(STEPS)
    unknown = e2e("--stack", KIND_STACKS[0], "predikt")
    assert unknown.returncode == 2 and "unknown step(s) predikt" in unknown.stderr


def test_the_command_line_refuses_a_stack_without_kind() -> None:
    shared = next(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for p in sorted(REPO_ROOT.glob("Pulumi.*.yaml"))
        if "mlops-platform:createKindCluster: false" in p.read_text()
    )
    result = e2e("--stack", shared, "predict")
    assert result.returncode == 2 and "does not create a kind cluster" in result.stderr

"""`make abtest-demo` for real: rollout and A/B decisions against the demo's real Prometheus.

Real parts: MLflow registry (SQLite), two model servers (`python -m serving`) per scenario,
Prometheus scraping them. The gateway stand-in replaces the Istio gateway and the Seldon
executors, which cannot run here. Three scenarios: a weaker challenger is rolled back as
significantly worse at its first step; a stronger one advances 10 -> 50 -> 100 and is promoted;
a challenger whose server stops breaches the error-ratio guardrail and is rolled back. In each,
the A/B table equals what the clients sent.

The same demo also runs on `ExactCountsServerDouble` (an in-process model server whose counters
are exact by construction), so the decisions are checked apart from the real server's accounting.
"""

import os
import re
from pathlib import Path

import mlflow
import pytest

from localrun.abtest_demo import main
from tests.monitoring.exact_counts_double import ExactCountsServerDouble

DOCS = Path(__file__).resolve().parents[2] / "docs" / "monitoring.md"


def documented_feedbacks() -> int:
    """The most challenger feedbacks docs/monitoring.md says scenario 1 needs."""
    found = re.search(r"at most (\d+) challenger feedbacks", DOCS.read_text())
    assert found, "docs/monitoring.md states no bound on scenario 1's challenger feedbacks"
    return int(found.group(1))


def _demo(prometheus_binary, **options):
    """The demo runs in this process, and its model loads go through mlflow's `_use_tracking_uri`
    (mlflow/tracking/_tracking_service/utils.py), which sets and restores a process-wide URI and
    `MLFLOW_TRACKING_URI` without a lock: concurrent loads can leave the demo's temporary store
    behind for every later test in this process. Put back what was there."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        return main(prometheus_binary, **options)
    finally:
        mlflow.set_tracking_uri(before)


@pytest.fixture(scope="module")
def scenarios(prometheus_binary):
    return _demo(prometheus_binary)


@pytest.fixture(scope="module")
def scenarios_on_the_exact_double(prometheus_binary):
    return _demo(prometheus_binary, serve=ExactCountsServerDouble)


def _actions(scenario) -> list[tuple[str, int]]:
    return [(step["action"], step["traffic"]) for step in scenario.decisions]


def _weaker_is_rolled_back_at_its_first_step(weaker) -> None:
    actions = _actions(weaker)
    assert actions[0] == ("start", 10)
    assert actions[-1] == ("rollback", 0), weaker.decisions[-1]["reason"]
    assert set(actions[1:-1]) <= {("wait", 10)}
    assert weaker.decisions[-1]["reason"].startswith("significantly worse")
    feedbacks = weaker.decisions[-1]["decision"]["counts"]["challenger"]["feedback"]
    assert feedbacks <= documented_feedbacks()
    assert weaker.final_traffic == {"champion": 100, "challenger": 0}


def _stronger_is_promoted_step_by_step(stronger) -> None:
    moves = [move for move in _actions(stronger) if move[0] != "wait"]
    assert moves == [("start", 10), ("advance", 50), ("advance", 100), ("promote", 100)]
    promotion = stronger.decisions[-1]["promotion"]
    assert promotion["to_version"] == stronger.challenger_version
    assert promotion["from_version"] == stronger.champion_version
    assert stronger.final_traffic == {"champion": 0, "challenger": 100}


def _crashing_is_rolled_back_by_the_error_guardrail(crashing) -> None:
    last = crashing.decisions[-1]
    assert (last["action"], last["traffic"]) == ("rollback", 0)
    assert "guardrail breached: error_ratio" in last["reason"]
    assert crashing.final_traffic == {"champion": 100, "challenger": 0}


def _table_equals_the_tally(scenario) -> None:
    assert scenario.table is not None, "the A/B rule refused the demo's evidence"
    counted = {
        name: {key: scenario.table[name][key] for key in ("requests", "feedback", "reward")}
        for name in scenario.tally
    }
    assert counted == scenario.tally


def test_a_weaker_challenger_is_rolled_back_at_its_first_step(scenarios):
    _weaker_is_rolled_back_at_its_first_step(scenarios[0])


def test_a_stronger_challenger_advances_step_by_step_and_is_promoted_at_the_last(scenarios):
    _stronger_is_promoted_step_by_step(scenarios[1])


def test_a_crashing_challenger_breaches_the_error_guardrail_and_is_rolled_back(scenarios):
    _crashing_is_rolled_back_by_the_error_guardrail(scenarios[2])


@pytest.mark.parametrize("index", [0, 1, 2], ids=["weaker", "stronger", "crashing"])
def test_the_ab_table_equals_what_the_clients_sent(scenarios, index):
    _table_equals_the_tally(scenarios[index])


def test_on_the_exact_counting_double_the_decisions_are_right_and_the_table_exact(
    scenarios_on_the_exact_double,
):
    weaker, stronger, crashing = scenarios_on_the_exact_double
    _weaker_is_rolled_back_at_its_first_step(weaker)
    _stronger_is_promoted_step_by_step(stronger)
    _crashing_is_rolled_back_by_the_error_guardrail(crashing)
    for scenario in scenarios_on_the_exact_double:
        _table_equals_the_tally(scenario)

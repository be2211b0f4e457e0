"""`make abtest-demo` for real: rollout and A/B decisions against the demo's real Prometheus.

Real parts: MLflow registry (SQLite), two model servers (`python -m serving`) per scenario,
Prometheus scraping them. The gateway stand-in replaces the Istio gateway and the Seldon
executors, which cannot run here. Three scenarios: a weaker challenger is rolled back as
significantly worse; a stronger one advances 10 -> 50 -> 100 and is promoted; a challenger whose
server stops breaches the error-ratio guardrail and is rolled back.
"""

import pytest

from localrun.abtest_demo import main


@pytest.fixture(scope="module")
def scenarios(prometheus_binary):
    return main(prometheus_binary)


def _actions(scenario) -> list[tuple[str, int]]:
    return [(step["action"], step["traffic"]) for step in scenario.decisions]


def test_a_weaker_challenger_is_rolled_back_and_never_promoted(scenarios):
    """On a slow machine its 10 % step may age past the minimum before the test is sure, so it
    can advance once first; it must end rolled back as significantly worse."""
    weaker = scenarios[0]
    actions = _actions(weaker)
    assert actions[0] == ("start", 10)
    assert actions[-1] == ("rollback", 0)
    assert {action for action, _ in actions[1:-1]} <= {"wait", "advance"}
    assert weaker.decisions[-1]["reason"].startswith("significantly worse")
    assert weaker.final_traffic == {"champion": 100, "challenger": 0}


def test_a_stronger_challenger_advances_step_by_step_and_is_promoted_at_the_last(scenarios):
    stronger = scenarios[1]
    moves = [move for move in _actions(stronger) if move[0] != "wait"]
    assert moves == [("start", 10), ("advance", 50), ("advance", 100), ("promote", 100)]
    promotion = stronger.decisions[-1]["promotion"]
    assert promotion["to_version"] == stronger.challenger_version
    assert promotion["from_version"] == stronger.champion_version
    assert stronger.final_traffic == {"champion": 0, "challenger": 100}


def test_a_crashing_challenger_breaches_the_error_guardrail_and_is_rolled_back(scenarios):
    crashing = scenarios[2]
    last = crashing.decisions[-1]
    assert (last["action"], last["traffic"]) == ("rollback", 0)
    assert "guardrail breached: error_ratio" in last["reason"]
    assert crashing.final_traffic == {"champion": 100, "challenger": 0}

"""What the A/B demo tests check of each scenario `localrun.abtest_demo.main` returns, and how
they run the demo in-process (test_abtest_demo.py on the real model server,
test_abtest_demo_exact_double.py on the exact-counting double: separate files, so xdist's
`--dist loadfile` runs the two demos side by side)."""

import os
import re

import mlflow

from localrun.abtest_demo import main
from tests.support.stacks import REPO_ROOT

DOCS = REPO_ROOT / "docs" / "monitoring.md"


def documented_feedbacks() -> int:
    """The most challenger feedbacks docs/monitoring.md says scenario 1 needs."""
    found = re.search(r"at most (\d+) challenger feedbacks", DOCS.read_text())
    assert found, "docs/monitoring.md states no bound on scenario 1's challenger feedbacks"
    return int(found.group(1))


def run_demo(prometheus_binary, **options):
    """The demo runs in this process, and its model loads go through mlflow's `_use_tracking_uri`
    (mlflow/tracking/_tracking_service/utils.py), which sets and restores a process-wide URI and
    `MLFLOW_TRACKING_URI` without a lock: concurrent loads can leave the demo's temporary store
    behind for every later test in this process. Put back what was there."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        return main(prometheus_binary, **options)
    finally:
        mlflow.set_tracking_uri(before)


def actions_of(scenario) -> list[tuple[str, int]]:
    return [(step["action"], step["traffic"]) for step in scenario.decisions]


def weaker_is_rolled_back_at_its_first_step(weaker) -> None:
    actions = actions_of(weaker)
    assert actions[0] == ("start", 10)
    assert actions[-1] == ("rollback", 0), weaker.decisions[-1]["reason"]
    assert set(actions[1:-1]) <= {("wait", 10)}
    assert weaker.decisions[-1]["reason"].startswith("significantly worse")
    feedbacks = weaker.decisions[-1]["decision"]["counts"]["challenger"]["feedback"]
    assert feedbacks <= documented_feedbacks()
    assert weaker.final_traffic == {"champion": 100, "challenger": 0}


def stronger_is_promoted_step_by_step(stronger) -> None:
    moves = [move for move in actions_of(stronger) if move[0] != "wait"]
    steps = [(step["action"], step["traffic"], step["reason"]) for step in stronger.decisions]
    assert moves == [("start", 10), ("advance", 50), ("advance", 100), ("promote", 100)], steps
    promotion = stronger.decisions[-1]["promotion"]
    assert promotion["to_version"] == stronger.challenger_version
    assert promotion["from_version"] == stronger.champion_version
    assert stronger.final_traffic == {"champion": 0, "challenger": 100}


def crashing_is_rolled_back_by_the_error_guardrail(crashing) -> None:
    last = crashing.decisions[-1]
    assert (last["action"], last["traffic"]) == ("rollback", 0)
    assert "guardrail breached: error_ratio" in last["reason"]
    assert crashing.final_traffic == {"champion": 100, "challenger": 0}


def table_equals_the_tally(scenario) -> None:
    assert scenario.table is not None, "the A/B rule refused the demo's evidence"
    counted = {
        name: {key: scenario.table[name][key] for key in ("requests", "feedback", "reward")}
        for name in scenario.tally
    }
    assert counted == scenario.tally

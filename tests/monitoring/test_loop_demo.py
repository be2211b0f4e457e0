"""`make loop-demo` for real: drift -> retraining -> candidate -> shadow agreement -> canary ->
promotion -> degraded champion -> guard rollback, with every pin change a commit at the forge.

Real parts: MLflow server, `python -m model train`, model servers, Prometheus, Alertmanager with the
rendered retrain routes, the retrain trigger (`python -m continuous_training serve`, TLS only,
verified by Alertmanager with a throwaway CA), the rollout tool, the champion guard, Git. Stand-ins
(named in localrun/loop_demo.py): the gateway stand-in for Istio and the executors, the Kubernetes
API double with `LocalJobRunner` running the triggered Job's container command as a local process, a
local bare repository for the forge, the clone's pull and server restarts for `pulumi up`.
"""

import json
import os

import mlflow
import pytest

from localrun.local_forge import git
from localrun.loop_demo import main

pytestmark = pytest.mark.long_running

SEQUENCE = ["bootstrap", "new data", "drift injected", "drift alert", "alert delivered",
            "trigger accepted", "training started", "retrained", "candidate pinned",
            "shadow agreement", "exposed", "canary step", "promotion", "champion degraded",
            "guard rollback"]  # fmt: skip
CHANGES = {"candidate pinned": "gate", "exposed": "rollout", "canary step": "rollout",
           "promotion": "promotion", "guard rollback": "guard"}  # fmt: skip


@pytest.fixture(scope="module")
def loop(prometheus_binary):
    before = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        yield main(prometheus_binary)
    finally:
        mlflow.set_tracking_uri(before)
        for key in ("MLFLOW_TRACKING_URI", "MLOPS_FORGE"):
            os.environ.pop(key, None)
        if before:
            os.environ["MLFLOW_TRACKING_URI"] = before


def test_the_loop_runs_in_order(loop) -> None:
    timeline, _ = loop
    steps = [step for i, step in enumerate(timeline.steps())
             if i == 0 or step != timeline.steps()[i - 1]]  # fmt: skip
    assert steps == SEQUENCE
    assert timeline.steps().count("canary step") >= 1
    details = {e.step: e.detail for e in timeline.events}
    assert "ModelFeatureDrift" in details["drift alert"]
    # The trigger serves only TLS; Alertmanager verified it with the CA the render points at.
    assert "to the retrain trigger at https://127.0.0.1:" in details["alert delivered"]
    assert (
        "created Job iris-training-retrain from CronJob iris-training"
        in details["trigger accepted"]
    )
    # The rendered CronJob's command, started by the trigger's Job (LocalJobRunner).
    assert "-m model train --model-name iris --data " in details["training started"]
    assert "--skip-unchanged" in details["training started"]


def test_every_pin_change_is_one_commit_with_its_evidence(loop) -> None:
    timeline, bare = loop
    changes = [e for e in timeline.events if e.step in CHANGES]
    assert all(e.commit for e in changes), [e for e in changes if not e.commit]
    main_commits = git(bare, "rev-list", "--reverse", "main").split()[1:]
    assert [e.commit for e in changes] == main_commits, "each change is exactly one commit"
    for event in changes:
        message = git(bare, "log", "-1", "--format=%B", event.commit)
        assert f"Model change ({CHANGES[event.step]}) of stack loop." in message
        evidence = json.loads(message.split("Evidence:\n", 1)[1])
        assert evidence, event
        touched = git(bare, "diff-tree", "--no-commit-id", "--name-only", "-r", event.commit)
        assert set(touched.split()) <= {"pins.loop.yaml", "Pulumi.loop.yaml"}
    first = git(bare, "log", "-1", "--format=%B", changes[0].commit)
    assert json.loads(first.split("Evidence:\n", 1)[1])["gate_passed"] is True
    last = json.loads(git(bare, "log", "-1", "--format=%B", "main").split("Evidence:\n", 1)[1])
    assert last["ledger"]["action"] == "rollback" and "guard" in last

"""`python -m stacks.rollout` driven by evidence files: steps, rollback, promotion at the last step.

Real parts: the MLflow registry and ledgers (sqlite), the stack file validated by the real
`StackConfig`, Git. Each step is proposed to a local bare repository standing in for the forge
(`LocalBareRepoForge`, MLOPS_FORGE=local), which merges dev's changes at once; the test then
pulls `main`, as the next job's checkout would. Time is passed with `--now`, so the minimum
step duration is exercised without waiting; the evidence is a recorded file (the same counts
Prometheus gives, see tests/monitoring/test_abtest_demo.py for the live source).
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localrun.local_forge import git
from model.promotion import history
from model.store import Store
from release.pins import pin_file_for, read_pins
from stacks import rollout_ledger
from stacks.rollout import main
from tests.analysis.rollout_fixtures import (
    champion_version,
    registry,  # noqa: F401 - module fixture
    rollout_checkout,
    traffic_of,
)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CHAMPION = {"requests": 90000, "errors": 0, "feedback": 80000, "reward": 56000}
HEALTHY = {"requests": 10000, "errors": 0, "feedback": 9000, "reward": 6350}
"""Shown not worse than the champion by the margin (0.02), not significantly better."""
BETTER = {"requests": 3000, "errors": 0, "feedback": 2700, "reward": 2160}
FAILING = {"requests": 1000, "errors": 90, "feedback": 900, "reward": 640}


def _evidence(tmp_path, challenger: dict) -> str:
    path = tmp_path / "evidence.json"
    look = {"at": T0.isoformat(), "predictors": {"champion": CHAMPION, "challenger": challenger}}
    path.write_text(json.dumps({"looks": [look]}))
    return str(path)


def _rollout(capsys, stack_file, tracking_uri, evidence: str, minutes: float) -> dict:
    code = main(
        ["--stack-file", str(stack_file), "--evidence", evidence, "--deployment", "iris",
         "--tracking-uri", tracking_uri, "--now", (T0 + timedelta(minutes=minutes)).isoformat(),
         "--actor", "rollout-bot", "--json"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (step,) = json.loads(captured.out)["rollouts"]
    git(Path(stack_file).parent, "pull", "-q", "--ff-only")
    return step


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    return [
        (old, new)
        for old, new in zip(before.splitlines(), after.splitlines(), strict=True)
        if old != new
    ]


@pytest.fixture
def isolated_registry(registry, tmp_path, monkeypatch):  # noqa: F811 - the module fixture
    """A copy of the module's registry, so each test starts from champion 1, challenger 2; the
    forge is the local bare repository of the test's checkout."""
    source = registry.removeprefix("sqlite:///")
    copy = tmp_path / "mlflow.db"
    copy.write_bytes(Path(source).read_bytes())
    monkeypatch.setenv("MLOPS_FORGE", "local")
    return f"sqlite:///{copy}"


def commits_on_main(stack: Path) -> list[str]:
    """Subjects of main's commits at the forge after the seed, oldest first."""
    forge = stack.parent.parent / "forge.git"
    return git(forge, "log", "--reverse", "--format=%s", "main").splitlines()[1:]


def test_steps_advance_after_the_minimum_time_and_promote_at_the_last(
    capsys, tmp_path, isolated_registry
):
    stack = rollout_checkout(tmp_path, isolated_registry)
    original = stack.read_text()
    healthy = _evidence(tmp_path, HEALTHY)
    first = _rollout(capsys, stack, isolated_registry, healthy, 0)
    assert (first["action"], first["traffic"]) == ("start", 10)
    early = _rollout(capsys, stack, isolated_registry, healthy, 5)
    assert (early["action"], early["traffic"]) == ("wait", 10)
    assert "needs 300s more" in early["reason"]
    assert stack.read_text() == original

    step = _rollout(capsys, stack, isolated_registry, healthy, 11)
    assert (step["action"], step["traffic"]) == ("advance", 50)
    assert traffic_of(stack) == {"champion": 50, "challenger": 50}
    assert _changed_lines(original, stack.read_text()) == [
        ("          traffic: 90", "          traffic: 50"),
        ("          traffic: 10", "          traffic: 50"),
    ]
    assert "# canary plan" in stack.read_text()

    assert _rollout(capsys, stack, isolated_registry, healthy, 15)["action"] == "wait"
    step = _rollout(capsys, stack, isolated_registry, healthy, 22)
    assert (step["action"], step["traffic"]) == ("advance", 100)
    assert traffic_of(stack) == {"champion": 0, "challenger": 100}

    waiting = _rollout(capsys, stack, isolated_registry, healthy, 40)
    assert waiting["action"] == "wait" and "last step" in waiting["reason"]
    better = _evidence(tmp_path, BETTER)
    promoted = _rollout(capsys, stack, isolated_registry, better, 41)
    assert promoted["action"] == "promote"
    assert champion_version(isolated_registry) == "2"
    # The champion predictor follows iris@champion: it serves version 2 now and takes it all.
    assert traffic_of(stack) == {"champion": 100, "challenger": 0}
    entry = history("iris", tracking_uri=isolated_registry)[-1]
    assert (entry.from_version, entry.to_version, entry.actor) == ("1", "2", "rollout-bot")
    assert entry.evidence["decision"]["decision"] == "promote"
    actions = [
        (r.action, r.traffic)
        for r in rollout_ledger.history(
            Store.open(isolated_registry), "seldon", "iris", "challenger"
        )
    ]
    assert actions == [("start", 10), ("advance", 50), ("advance", 100), ("promote", 100)]
    assert commits_on_main(stack) == [
        "seldon/iris: rollout advance, challenger at 50%",
        "seldon/iris: rollout advance, challenger at 100%",
        "seldon/iris: rollout promote, challenger at 0%",
    ]
    forge = stack.parent.parent / "forge.git"
    message = git(forge, "log", "-1", "--format=%B", "main")
    assert '"decision": "promote"' in message and '"to_version": "2"' in message
    pins = read_pins(pin_file_for(stack))
    assert pins.pin("seldon/iris", "champion").version == "2"
    assert pins.pin("seldon/iris", "challenger").version == "2"


def test_a_breached_guardrail_rolls_the_challenger_back_to_zero(
    capsys, tmp_path, isolated_registry
):
    stack = rollout_checkout(tmp_path, isolated_registry)
    _rollout(capsys, stack, isolated_registry, _evidence(tmp_path, HEALTHY), 0)
    step = _rollout(capsys, stack, isolated_registry, _evidence(tmp_path, FAILING), 1)
    assert (step["action"], step["traffic"]) == ("rollback", 0)
    assert "error_ratio" in step["reason"]
    assert traffic_of(stack) == {"champion": 100, "challenger": 0}
    assert champion_version(isolated_registry) == "1"
    (last,) = rollout_ledger.history(Store.open(isolated_registry), "seldon", "iris", "challenger")[
        -1:
    ]
    assert (last.action, last.traffic, last.actor) == ("rollback", 0, "rollout-bot")
    after = _rollout(capsys, stack, isolated_registry, _evidence(tmp_path, FAILING), 30)
    assert (after["action"], after["traffic"]) == ("wait", 0)
    assert commits_on_main(stack) == ["seldon/iris: rollout rollback, challenger at 0%"]


def test_traffic_off_the_plan_is_refused_and_nothing_changes(capsys, tmp_path, isolated_registry):
    stack = rollout_checkout(tmp_path, isolated_registry)
    text = stack.read_text().replace("traffic: 90", "traffic: 70", 1)
    text = text.replace("traffic: 10", "traffic: 30", 1)
    stack.write_text(text)
    code = main(
        ["--stack-file", str(stack), "--evidence", _evidence(tmp_path, HEALTHY), "--deployment",
         "iris", "--tracking-uri", isolated_registry, "--now", T0.isoformat()]
    )  # fmt: skip
    assert code == 1
    assert "traffic 30 is not a step of the rollout plan [10, 50, 100]" in capsys.readouterr().err
    assert stack.read_text() == text
    assert (
        rollout_ledger.history(Store.open(isolated_registry), "seldon", "iris", "challenger") == []
    )


@pytest.mark.parametrize(
    ("challenger", "message"),
    [
        (
            {"requests": 1000, "errors": 0, "feedback": 169, "reward": 171},
            "arm 'challenger' at 2026-11-23T12:00:00+00:00: reward sum 171 outside [0, 1] x 169 "
            "feedbacks = [0, 169]",
        ),
        (
            {"requests": 0, "errors": 0, "feedback": 900, "reward": 635},
            "arm 'challenger' at 2026-11-23T12:00:00+00:00: 900 feedbacks but no prediction "
            "requests",
        ),
        (
            {"requests": 1000, "errors": 1001, "feedback": 900, "reward": 635},
            "1001 5xx answers exceed its 1000 prediction requests",
        ),
    ],
    ids=["rewards-above-feedbacks", "feedback-without-predictions", "errors-above-requests"],
)
def test_inconsistent_evidence_takes_no_step(
    capsys, tmp_path, isolated_registry, challenger, message
):
    stack = rollout_checkout(tmp_path, isolated_registry)
    _rollout(capsys, stack, isolated_registry, _evidence(tmp_path, HEALTHY), 0)
    started = stack.read_text()
    code = main(
        ["--stack-file", str(stack), "--evidence", _evidence(tmp_path, challenger),
         "--deployment", "iris", "--tracking-uri", isolated_registry,
         "--now", (T0 + timedelta(minutes=30)).isoformat(), "--json"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    assert "no decision taken" in captured.err
    assert message in captured.err
    assert json.loads(captured.out)["error"]["type"] == "InconsistentEvidence"
    assert stack.read_text() == started
    ledger = rollout_ledger.history(Store.open(isolated_registry), "seldon", "iris", "challenger")
    assert [entry.action for entry in ledger] == ["start"]
    assert champion_version(isolated_registry) == "1"

"""Promotions are serialized and recorded in one step, against real ``mlflow server`` processes.

- a true race: two ``python -m model promote`` processes released at the same instant against
  one server, several rounds: one winner per round, a consistent ledger, no duplicate sequence;
- the registry killed between the alias move and the ledger commit: ``history`` shows the
  pending entry, and ``rollback`` settles it and works;
- the alias moved behind the ledger's back between read and move: compare-and-set refuses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mlflow import MlflowClient

from model import promotion
from model.locations import REPO_ROOT
from model.promotion import champion_lineage, history

RACE_ROUNDS = 3
RACER_IMPORT_TIMEOUT_S = 120  # both interpreters import mlflow, on a busy machine too
# Each racer imports everything first, says so by creating its ready file, then waits for the
# start instant the test sends once both are ready.
RACER = """
import sys, time
from model.cli import main
import model.promotion, model.transfer
open(sys.argv[1], "x").close()
start = float(sys.stdin.readline())
time.sleep(max(0.0, start - time.time()))
sys.exit(main(sys.argv[2:]))
"""
LOST = ("lost the race", "is in flight until", "is already the champion")


def champion(tracking_uri: str, model_name: str) -> str:
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return str(client.get_model_version_by_alias(model_name, "champion").version)


def train(run_cli, tracking_uri: str, model_name: str) -> str:
    result = run_cli(
        "train", "--tracking-uri", tracking_uri, "--model-name", model_name, "--spec", "iris",
        "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    return result.json()["version"]


def race(
    tracking_uri: str, model_name: str, env: dict[str, str], workdir: Path
) -> list[subprocess.CompletedProcess]:
    """Two promote processes of the same challenger, released at one instant once both have
    imported everything."""
    promote = ["promote", "--tracking-uri", tracking_uri, "--model-name", model_name, "--json"]
    ready = [workdir / f"racer-{uuid.uuid4().hex}.ready" for _ in range(2)]
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(flag), *promote, "--actor", f"racer-{n}"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, flag in enumerate(ready)
    ]
    deadline = time.monotonic() + RACER_IMPORT_TIMEOUT_S
    while not all(flag.exists() for flag in ready):
        if time.monotonic() > deadline or any(racer.poll() is not None for racer in racers):
            for racer in racers:
                racer.kill()
            pytest.fail(f"racers not ready: {[racer.communicate()[1][-2000:] for racer in racers]}")
        time.sleep(0.05)
    start = f"{time.time() + 0.5}\n"
    for racer in racers:
        racer.stdin.write(start)
        racer.stdin.flush()
    results = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(racer.args, racer.returncode, out, err))
    return results


def test_two_racing_promotions_leave_one_winner_and_a_consistent_ledger(
    run_cli, mlflow_server: str, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    model_name = f"race-{uuid.uuid4().hex[:8]}"
    train(run_cli, mlflow_server, model_name)
    assert run_cli("promote", "--tracking-uri", mlflow_server, "--model-name", model_name).code == 0
    losses = []
    for _ in range(RACE_ROUNDS):
        challenger = train(run_cli, mlflow_server, model_name)

        outcomes = race(mlflow_server, model_name, subprocess_env, tmp_path)

        winners = [o for o in outcomes if o.returncode == 0]
        losers = [o for o in outcomes if o.returncode != 0]
        assert len(winners) == 1, [o.stderr for o in outcomes]
        assert len(losers) == 1 and losers[0].returncode == 1, losers[0].stderr
        assert any(reason in losers[0].stderr for reason in LOST), losers[0].stderr
        losses.append(next(reason for reason in LOST if reason in losers[0].stderr))
        won = json.loads(winners[0].stdout)
        assert (won["to_version"], won["state"]) == (challenger, "committed")
        assert champion(mlflow_server, model_name) == challenger

    entries = history(model_name, tracking_uri=mlflow_server)
    sequences = [record.sequence for record in entries]
    assert sequences == list(range(1, len(entries) + 1))  # no duplicate, no gap
    assert all(record.state == "committed" for record in entries)
    # Each training records its candidate too; the promotions alone form the champion's chain.
    ledger = [record for record in entries if record.action == "promote"]
    assert len(ledger) == RACE_ROUNDS + 1
    assert [record.from_version for record in ledger[1:]] == [r.to_version for r in ledger[:-1]]
    assert champion_lineage(entries)[-1] == champion(mlflow_server, model_name)
    # At least one round was decided by the ledger lock itself, not by one racer being late.
    assert set(losses) & {"lost the race", "is in flight until"}, losses


def test_registry_killed_between_alias_move_and_ledger_commit(
    run_cli, private_mlflow_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = private_mlflow_server.url
    common = ("--tracking-uri", uri, "--model-name", "iris")
    train(run_cli, uri, "iris")
    assert run_cli("promote", *common).code == 0
    train(run_cli, uri, "iris")
    monkeypatch.setattr(promotion, "_after_alias_move", private_mlflow_server.stop)

    failed = run_cli("promote", *common)

    assert failed.code == 1
    # Entries 1 and 3 are the trainings' candidates, 2 the first promotion.
    assert "ledger entry #4 of iris (promote 1 -> 2) could not be committed" in failed.stderr
    assert "the champion alias already points at 2" in failed.stderr
    monkeypatch.undo()
    private_mlflow_server.start()
    monkeypatch.setenv(promotion.LEASE_ENV, "3600")
    shown = run_cli("history", *common, "--json").json()["history"]
    assert [(r["sequence"], r["to_version"], r["state"]) for r in shown] == [
        (1, "1", "committed"),  # the first training's candidate
        (2, "1", "committed"),
        (3, "2", "committed"),  # the second training's candidate
        (4, "2", "pending"),
    ]
    assert "#4 is pending: it stopped part-way" in run_cli("history", *common).stdout
    in_flight = run_cli("rollback", *common)
    assert in_flight.code == 1 and "is in flight until" in in_flight.stderr
    assert champion(uri, "iris") == "2"

    monkeypatch.setenv(promotion.LEASE_ENV, "5")
    lease_end = datetime.fromisoformat(shown[3]["recorded_at"]) + timedelta(seconds=5)
    time.sleep(max(0.0, (lease_end - datetime.now(UTC)).total_seconds()))  # let the lease lapse
    rolled = run_cli("rollback", *common, "--reason", "registry died mid-promotion", "--json")

    assert rolled.code == 0, rolled.stderr
    assert (rolled.json()["from_version"], rolled.json()["to_version"]) == ("2", "1")
    assert champion(uri, "iris") == "1"
    after = history("iris", tracking_uri=uri)
    assert [(r.sequence, r.action, r.state) for r in after] == [
        (1, "candidate", "committed"),
        (2, "promote", "committed"),
        (3, "candidate", "committed"),
        (4, "promote", "committed"),
        (5, "rollback", "committed"),
    ]
    assert "the champion alias was found at 2" in after[3].note


def test_alias_moved_behind_the_ledger_aborts_the_step(
    run_cli, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_name = f"cas-{uuid.uuid4().hex[:8]}"
    common = ("--tracking-uri", mlflow_server, "--model-name", model_name)
    train(run_cli, mlflow_server, model_name)
    assert run_cli("promote", *common).code == 0
    train(run_cli, mlflow_server, model_name)
    train(run_cli, mlflow_server, model_name)
    reserve = promotion._reserve

    def reserve_then_move_alias(store, ledger, base, key):
        reserved = reserve(store, ledger, base, key)
        # someone else, by hand
        store.client.set_registered_model_alias(base["model_name"], "champion", "2")
        return reserved

    monkeypatch.setattr(promotion, "_reserve", reserve_then_move_alias)

    refused = run_cli("promote", *common, "--version", "3")

    assert refused.code == 1
    assert f"the champion alias of {model_name} moved from 1 to 2 while this promote ran" in (
        refused.stderr
    )
    assert champion(mlflow_server, model_name) == "2"
    last = history(model_name, tracking_uri=mlflow_server)[-1]
    # Entries 1, 3 and 4 are the trainings' candidates, 2 the first promotion.
    assert (last.sequence, last.state) == (5, "aborted")
    assert "compare-and-set failed: champion was 2, not 1" in last.note

"""The promotion ledger holds against a login without the ledger key, on the real authenticated
server (the session's ``mlflow_server``, as the pipeline user holding ``MODEL_LEDGER_KEY``).

The forger here is the pipeline login itself with the key taken away: the strongest insider
the platform's auth rules still let create experiments. Its entries are forged committed
promotions, a pending entry "in flight" for decades, a malformed entry and an empty squat on
the next sequence number.
"""

from __future__ import annotations

import json
import uuid

import pytest
from mlflow import MlflowClient

from model.promotion import read_ledger
from model.store import Store
from tests.support.mlflow_server import LEDGER_KEY, LEDGER_KEY_ENV


def client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def train(run_cli, uri: str, name: str) -> str:
    result = run_cli(
        "train", "--tracking-uri", uri, "--model-name", name, "--spec", "iris", "--json"
    )
    assert result.code == 0, result.stderr
    return result.json()["version"]


def forge(uri: str, name: str, sequence: int, tags: dict[str, str]) -> None:
    client(uri).create_experiment(
        f"model-promotions/{name}/{sequence:06d}",
        tags={f"ledger.{key}": value for key, value in tags.items()},
    )


def forged_entry(name: str, sequence: int, to_version: str, state: str, at: str) -> dict:
    return {
        "model_name": name, "action": "promote", "from_version": "none",
        "to_version": to_version, "actor": "ci", "recorded_at": at, "reason": "",
        "forced": "false", "sequence": str(sequence), "evidence": "{}",
        "status": json.dumps({"state": state, "note": ""}), "signature": "0" * 64,
    }  # fmt: skip


def test_forged_squatted_and_malformed_entries_are_skipped_never_trusted(
    run_cli, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"ledger-{uuid.uuid4().hex[:8]}"
    common = ("--tracking-uri", mlflow_server, "--model-name", name)
    first = train(run_cli, mlflow_server, name)
    assert run_cli("promote", *common, "--version", first).code == 0
    second = train(run_cli, mlflow_server, name)
    assert run_cli("promote", *common, "--version", second, "--force", "--reason", "t").code == 0
    client(mlflow_server).set_model_version_tag(name, first, "gate.passed", "true")

    # The genuine entries: the trainings' candidates and the two promotions.
    history = run_cli("history", *common, "--json").json()["history"]
    genuine = [entry["sequence"] for entry in history]
    n = len(genuine)
    assert genuine == list(range(1, n + 1))
    squat = forged_entry(name, n + 1, "99", "committed", "2026-01-01T00:00")
    forge(mlflow_server, name, n + 1, squat)
    jam = forged_entry(name, n + 2, "98", "pending", "2099-01-01T00:00")
    forge(mlflow_server, name, n + 2, jam)
    forge(mlflow_server, name, n + 3, {"sequence": "five", "status": "{"})
    forge(mlflow_server, name, n + 4, {})

    result = run_cli("history", *common, "--json")
    assert result.code == 0, result.stderr
    shown = result.json()
    assert [entry["sequence"] for entry in shown["history"]] == genuine
    assert len(shown["rejected"]) == 4
    assert all("not signed" in line or "malformed" in line for line in shown["rejected"])

    rolled = run_cli("rollback", *common, "--reason", "drill", "--json")
    assert rolled.code == 0, rolled.stderr
    assert rolled.json()["to_version"] == first
    assert rolled.json()["sequence"] == n + 5
    assert rolled.stderr.count("ledger entry skipped, not trusted") == 4


def test_entries_cannot_be_written_or_verified_without_the_key(
    run_cli, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"nokey-{uuid.uuid4().hex[:8]}"
    train(run_cli, mlflow_server, name)
    monkeypatch.delenv(LEDGER_KEY_ENV)
    result = run_cli("promote", "--tracking-uri", mlflow_server, "--model-name", name)
    assert result.code == 1
    assert f"{LEDGER_KEY_ENV} is unset" in result.stderr
    monkeypatch.setenv(LEDGER_KEY_ENV, "too-short")
    result = run_cli("promote", "--tracking-uri", mlflow_server, "--model-name", name)
    assert result.code == 1
    assert "at least 32" in result.stderr


def test_an_entry_signed_with_another_key_is_refused(
    run_cli, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"otherkey-{uuid.uuid4().hex[:8]}"
    train(run_cli, mlflow_server, name)
    monkeypatch.setenv(LEDGER_KEY_ENV, "x" * 64)
    assert run_cli("promote", "--tracking-uri", mlflow_server, "--model-name", name).code == 0
    monkeypatch.setenv(LEDGER_KEY_ENV, LEDGER_KEY)
    ledger = read_ledger(Store.open(mlflow_server), name)
    # Only the training's candidate entry, signed with the release path's key, is trusted.
    assert [record.action for record in ledger.records] == ["candidate"]
    # Only trusted entries decide the next number; the foreign one's name is still skipped.
    assert (ledger.last_sequence, ledger.taken) == (1, {1, 2})
    assert "not signed with the release path's ledger key" in ledger.rejected[0]


def test_rollback_to_a_gate_failed_version_needs_force_and_a_recorded_reason(
    run_cli, mlflow_server: str
) -> None:
    name = f"rollback-gate-{uuid.uuid4().hex[:8]}"
    common = ("--tracking-uri", mlflow_server, "--model-name", name)
    first = train(run_cli, mlflow_server, name)
    assert run_cli("promote", *common, "--version", first).code == 0
    second = train(run_cli, mlflow_server, name)
    assert run_cli("promote", *common, "--version", second, "--force", "--reason", "t").code == 0
    client(mlflow_server).set_model_version_tag(name, first, "gate.passed", "false")

    refused = run_cli("rollback", *common)
    assert refused.code == 1
    assert f"version {first}, the previous champion, has no passed quality gate" in refused.stderr
    assert run_cli("rollback", *common, "--force").code == 1

    forced = run_cli("rollback", *common, "--force", "--reason", "incident 42", "--json")
    assert forced.code == 0, forced.stderr
    assert forced.json()["forced"] is True
    assert forced.json()["reason"] == "incident 42"
    assert forced.json()["to_version"] == first

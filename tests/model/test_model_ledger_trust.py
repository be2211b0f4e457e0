"""The promotion ledger holds against a login without the ledger key, on the real authenticated
server (the session's ``mlflow_server``, as the pipeline user holding ``MODEL_LEDGER_KEY``).

The forger here is the pipeline login itself with the key taken away: the strongest insider
the platform's auth rules still let create experiments and set their tags. Its entries are
forged committed promotions, a pending entry "in flight" for decades, a malformed entry, empty
squats on the next sequence numbers, misnamed entries (a non-ASCII digit, an over-long name) and
tampered tags of genuine entries; its version tags claim a passed gate.
"""

from __future__ import annotations

import json
import uuid

import pytest
from mlflow import MlflowClient
from mlflow.utils.validation import MAX_EXPERIMENT_NAME_LENGTH

from model.errors import PromotionError
from model.ledger_signing import sign
from model.promotion import read_ledger, record_step
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
    prefix = f"model-promotions/{name}/"
    for misnamed in ("\u00b2", "9" * (MAX_EXPERIMENT_NAME_LENGTH - len(prefix)), "0000001"):
        client(mlflow_server).create_experiment(prefix + misnamed)

    result = run_cli("history", *common, "--json")
    assert result.code == 0, result.stderr
    shown = result.json()
    assert [entry["sequence"] for entry in shown["history"]] == genuine
    assert (len(shown["rejected"]), shown["broken"]) == (7, None)
    assert sum("misnamed" in line for line in shown["rejected"]) == 3
    assert all(
        "not signed" in line or "malformed" in line or "misnamed" in line
        for line in shown["rejected"]
    )

    rolled = run_cli("rollback", *common, "--reason", "drill", "--json")
    assert rolled.code == 0, rolled.stderr
    assert rolled.json()["to_version"] == first
    assert rolled.json()["sequence"] == n + 5
    assert rolled.stderr.count("ledger entry skipped, not trusted") == 7
    assert "Traceback" not in rolled.stderr
    # Training (a signed candidate entry) still writes past every squat.
    assert train(run_cli, mlflow_server, name)
    assert run_cli("history", *common, "--json").json()["history"][-1]["sequence"] == n + 6


def test_a_name_squatted_after_the_read_is_skipped_and_a_trusted_one_is_a_lost_race(
    run_cli, mlflow_server: str
) -> None:
    name = f"race-{uuid.uuid4().hex[:8]}"
    version = train(run_cli, mlflow_server, name)
    store = Store.open(mlflow_server)
    stale = read_ledger(store, name)
    forge(mlflow_server, name, 2, {})  # squatted between the read and the write

    def export() -> int:
        return record_step(
            store, stale, action="export", model_name=name, from_version=version,
            to_version=version, actor="t", reason="t", forced=False, evidence={},
        ).sequence  # fmt: skip

    assert export() == 3
    with pytest.raises(PromotionError, match="took ledger entry #3 first"):
        export()
    assert [r.sequence for r in read_ledger(store, name).records] == [1, 3]


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
    """The previous champion failed its gate (promoted with --force); the pipeline login then
    writes passed gate tags on it without the key: only the signed ledger counts."""
    name = f"rollback-gate-{uuid.uuid4().hex[:8]}"
    common = ("--tracking-uri", mlflow_server, "--model-name", name)
    first = train(run_cli, mlflow_server, name)
    assert run_cli("promote", *common, "--version", first).code == 0
    weaker = run_cli("train", *common, "--spec", "iris", "--param", "C=0.001", "--json")
    assert weaker.code == 3, weaker.stderr
    failed = weaker.json()["version"]
    assert run_cli("promote", *common, "--version", failed, "--force", "--reason", "t").code == 0
    third = train(run_cli, mlflow_server, name)
    assert run_cli("promote", *common, "--version", third).code == 0
    forged = client(mlflow_server)
    forged.set_model_version_tag(name, failed, "gate.passed", "true")
    forged.set_model_version_tag(name, failed, "gate.verdict", json.dumps({"passed": True}))

    refused = run_cli("rollback", *common)
    assert refused.code == 1
    assert f"version {failed}, the previous champion, has no passed quality gate" in refused.stderr
    assert "in the signed ledger" in refused.stderr
    assert run_cli("rollback", *common, "--force").code == 1

    forced = run_cli("rollback", *common, "--force", "--reason", "incident 42", "--json")
    assert forced.code == 0, forced.stderr
    assert forced.json()["forced"] is True
    assert forced.json()["reason"] == "incident 42"
    assert forced.json()["to_version"] == failed
    assert forced.json()["evidence"]["gate_entry"] is None


def promoted_three_times(run_cli, uri: str, name: str) -> list[str]:
    versions = []
    for _ in range(3):
        versions.append(train(run_cli, uri, name))
        promoted = run_cli("promote", "--tracking-uri", uri, "--model-name", name,
                           "--version", versions[-1], "--force", "--reason", "drill")  # fmt: skip
        assert promoted.code == 0, promoted.stderr
    return versions


def test_a_tampered_or_replayed_genuine_entry_breaks_the_chain_and_stops_every_move(
    run_cli, mlflow_server: str
) -> None:
    """The pipeline login without the key overwrites the signature of a genuine entry (to hide
    it: rollback would skip the champion it records), then, once an admin restored it, writes
    back the pending status the entry's step had while it ran (signed, seen by anyone who read
    it then) to hide it from the champion lineage."""
    name = f"tamper-{uuid.uuid4().hex[:8]}"
    common = ("--tracking-uri", mlflow_server, "--model-name", name)
    promoted_three_times(run_cli, mlflow_server, name)
    # Entries: 1 candidate, 2 promote v1, 3 candidate, 4 promote v2, 5 candidate, 6 promote v3.
    entry = client(mlflow_server).get_experiment_by_name(f"model-promotions/{name}/000004")
    genuine = entry.tags["ledger.signature"]
    client(mlflow_server).set_experiment_tag(entry.experiment_id, "ledger.signature", "0" * 64)

    shown = run_cli("history", *common, "--json")
    assert shown.code == 0, shown.stderr
    broken = shown.json()["broken"]
    assert broken.startswith("entry #5 (candidate -> 3) does not follow the trusted entry before")
    assert "(#3)" in broken
    assert "000004" in shown.json()["rejected"][0]
    for step in (("rollback", "--reason", "incident"),
                 ("promote", "--version", "1", "--force", "--reason", "r")):  # fmt: skip
        refused = run_cli(*step, *common)
        assert refused.code == 1
        assert f"the promotion ledger of {name} is broken: entry #5" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert str(client(mlflow_server).get_model_version_by_alias(name, "champion").version) == "3"

    client(mlflow_server).set_experiment_tag(entry.experiment_id, "ledger.signature", genuine)
    assert run_cli("history", *common, "--json").json()["broken"] is None
    pending = {"state": "pending", "note": ""}
    seen = {**pending, "signature": sign(LEDGER_KEY.encode(), {"entry": genuine, **pending})}
    client(mlflow_server).set_experiment_tag(
        entry.experiment_id, "ledger.status", json.dumps(seen, separators=(",", ":"))
    )

    broken = run_cli("history", *common, "--json").json()["broken"]
    assert broken.startswith("entry #4 (promote -> 2) is pending although later entries")
    refused = run_cli("rollback", *common, "--reason", "incident")
    assert refused.code == 1
    assert "is broken: entry #4" in refused.stderr

"""`python -m release promote|rollback|follow`: the registry move (signed ledger, or the gate's
alias) and then exactly one reviewed change per move, proposed to a local bare repository
standing in for the forge (`LocalBareRepoForge`, MLOPS_FORGE=local), which merges dev's changes
at once. Real parts: `python -m model train`, the SQLite registry and ledger, Git."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from localrun.local_forge import git, seeded_forge
from model.promotion import expose, promote, record_candidate
from model.store import Store
from release.__main__ import main
from release.pinning import lock_from_store
from release.pins import dump_pins

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> str:
    """iris version 1 (champion) and 2 (the candidate, exposed as challenger), trained by
    `python -m model train`."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}"
    for _ in range(2):
        subprocess.run([sys.executable, "-m", "model", "train", "--json", "--tracking-uri", uri],
                       cwd=REPO_ROOT, check=True, capture_output=True, timeout=600)  # fmt: skip
        if _ == 0:
            promote("iris", "1", tracking_uri=uri, reason="first champion")
    expose("iris", tracking_uri=uri, reason="the tests' challenger")
    return uri


@pytest.fixture
def checkout(registry, tmp_path, monkeypatch) -> Path:
    """The dev stack and its pins (champion 1, challenger 2, shadow on the candidate 2) at the
    forge double."""
    copy = tmp_path / "mlflow.db"
    copy.write_bytes(Path(registry.removeprefix("sqlite:///")).read_bytes())
    uri = f"sqlite:///{copy}"
    lock = lock_from_store(REPO_ROOT / "Pulumi.dev.yaml", Store.open(uri))
    files = {"Pulumi.dev.yaml": (REPO_ROOT / "Pulumi.dev.yaml").read_text(),
             "pins.dev.yaml": dump_pins(lock)}  # fmt: skip
    work, _ = seeded_forge(tmp_path / "forge", files)
    monkeypatch.setenv("MLOPS_FORGE", "local")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return work


def release(capsys, checkout: Path, *args: str) -> dict:
    code = main([*args, "--stack", "dev", "--stack-file", str(checkout / "Pulumi.dev.yaml"),
                 "--json"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    git(checkout, "pull", "-q", "--ff-only")
    return json.loads(captured.out)


def main_log(checkout: Path) -> list[str]:
    """Bodies of the forge's main commits after the seed, oldest first."""
    forge = checkout.parent / "forge.git"
    hashes = git(forge, "rev-list", "--reverse", "main").split()[1:]
    return [git(forge, "log", "-1", "--format=%B", h) for h in hashes]


def served(checkout: Path) -> dict[str, str]:
    pins = yaml.safe_load((checkout / "pins.dev.yaml").read_text())["deployments"]["seldon/iris"]
    return {name: pin["version"] for name, pin in pins.items()}


def test_promotion_then_rollback_are_one_reviewed_commit_each(capsys, checkout) -> None:
    promoted = release(capsys, checkout, "promote", "--model-name", "iris", "--reason", "A/B won")
    assert promoted["ledger"]["to_version"] == "2"
    assert promoted["change_request"]["kind"] == "promotion"
    assert promoted["change_request"]["request"]["merged"] is True
    assert served(checkout) == {"champion": "2", "challenger": "2", "shadow": "2"}

    rolled = release(capsys, checkout, "rollback", "--model-name", "iris", "--reason", "degraded")
    assert rolled["ledger"]["to_version"] == "1"
    assert served(checkout) == {"champion": "1", "challenger": "2", "shadow": "2"}

    first, second = main_log(checkout)
    assert first.startswith("iris: promotion of champion 1 -> 2")
    assert json.loads(first.split("Evidence:\n", 1)[1])["ledger"]["reason"] == "A/B won"
    assert second.startswith("iris: rollback of champion 2 -> 1")
    assert json.loads(second.split("Evidence:\n", 1)[1])["ledger"]["action"] == "rollback"
    for request in (promoted, rolled):
        branch = request["change_request"]["branch"]
        assert (
            git(checkout.parent / "forge.git", "rev-list", "--count", f"{branch}~1..{branch}")
            == "1"
        )


def test_follow_proposes_a_gate_moved_alias_once(capsys, checkout) -> None:
    store = Store.open()
    assert release(capsys, checkout, "follow", "--alias", "candidate")["change_requests"] == []
    # Version 1 passed its gate; a signed candidate entry moves the alias back.
    moved = record_candidate(store, "iris", "1", {"gate": {"passed": True}})
    (request,) = release(capsys, checkout, "follow", "--alias", "candidate")["change_requests"]
    assert request["kind"] == "gate"
    assert served(checkout) == {"champion": "1", "challenger": "2", "shadow": "1"}
    (message,) = main_log(checkout)
    assert message.startswith("iris: candidate -> version 1 (quality gate passed)")
    evidence = json.loads(message.split("Evidence:\n", 1)[1])
    assert evidence["gate_passed"] is True and evidence["dataset_hash"]
    assert evidence["gate_entry"] == moved.sequence
    assert release(capsys, checkout, "follow", "--alias", "candidate")["change_requests"] == []


def test_follow_refuses_an_alias_moved_outside_the_signed_ledger(capsys, checkout) -> None:
    """A pipeline login without the ledger key moves `candidate` and writes the gate tags: the
    follow job proposes nothing, names why and fails."""
    client = MlflowClient(tracking_uri=Store.open().tracking_uri)
    client.set_model_version_tag("iris", "1", "gate.passed", "true")
    client.set_registered_model_alias("iris", "candidate", "1")
    code = main(["follow", "--alias", "candidate", "--stack", "dev",
                 "--stack-file", str(checkout / "Pulumi.dev.yaml"), "--json"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out)["change_requests"] == []
    assert "iris@candidate points at version 1 but the signed ledger says 2" in captured.err
    assert main_log(checkout) == []

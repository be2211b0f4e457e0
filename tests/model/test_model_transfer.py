"""Promotion across environments between two real ``mlflow server`` processes (dev -> prod)."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts

from model.digest import model_digest
from model.promotion import history

CREDENTIALS = ("USERNAME", "PASSWORD")


def client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def downloaded_digest(
    uri: str, model_name: str, version: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The digest of the version's files as serving fetches them: ``models:/`` with the
    registry from the environment (this adds ``registered_model_meta``, which is excluded)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    with tempfile.TemporaryDirectory() as scratch:
        local = Path(
            download_artifacts(artifact_uri=f"models:/{model_name}/{version}", dst_path=scratch)
        )
        assert (local / "registered_model_meta").is_file()
        return model_digest(local)


def test_copy_to_another_registry_keeps_bytes_lineage_and_verdict(
    run_cli, mlflow_server: str, second_mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev, prod = mlflow_server, second_mlflow_server
    name = f"release-{uuid.uuid4().hex[:8]}"
    dev_common = ("--tracking-uri", dev, "--model-name", name)
    for _ in range(2):
        assert run_cli("train", *dev_common, "--spec", "iris").code == 0
    assert run_cli("promote", *dev_common, "--version", "2").code == 0
    across = ("--model-name", name, "--from-tracking-uri", dev, "--to-tracking-uri", prod)

    # Per-side credentials: the copy talks to dev (authenticated) only with MLFLOW_FROM_*.
    ambient = {key: mlflow_server.pipeline_env[f"MLFLOW_TRACKING_{key}"] for key in CREDENTIALS}
    for key, value in ambient.items():
        monkeypatch.delenv(f"MLFLOW_TRACKING_{key}")
        monkeypatch.setenv(f"MLFLOW_FROM_TRACKING_{key}", value)

    copied = run_cli("promote", *across, "--actor", "release", "--reason", "v1.2.0", "--json")

    for key, value in ambient.items():
        monkeypatch.setenv(f"MLFLOW_TRACKING_{key}", value)

    assert copied.code == 0, copied.stderr
    result = copied.json()
    assert (result["from_version"], result["to_version"]) == ("2", "1")
    source_tags = client(dev).get_model_version(name, "2").tags
    target_tags = client(prod).get_model_version(name, "1").tags
    assert result["model_digest"] == source_tags["model_digest"] == target_tags["model_digest"]
    for key in ("dataset_hash", "dataset_uri", "git_commit", "gate.passed", "gate.verdict"):
        assert target_tags[key] == source_tags[key], key
    assert target_tags["metric.accuracy"] == source_tags["metric.accuracy"]
    assert (target_tags["source.tracking_uri"], target_tags["source.version"]) == (dev, "2")
    assert downloaded_digest(prod, name, "1", monkeypatch) == source_tags["model_digest"]
    assert str(client(prod).get_model_version_by_alias(name, "champion").version) == "1"

    imported = history(name, tracking_uri=prod)
    assert [(r.sequence, r.action, r.to_version, r.state) for r in imported] == [
        (1, "import", "1", "committed")
    ]
    assert imported[0].evidence["from_version"] == "2"
    assert (imported[0].actor, imported[0].reason) == ("release", "v1.2.0")
    exported = history(name, tracking_uri=dev)[-1]
    assert (exported.action, exported.to_version, exported.state) == ("export", "2", "committed")
    assert exported.evidence["to_tracking_uri"] == prod
    assert exported.evidence["to_version"] == "1"

    again = run_cli("promote", *across, "--json")
    assert again.code == 0, again.stderr
    assert (again.json()["to_version"], again.json()["imported"]) == ("1", None)
    assert len(history(name, tracking_uri=prod)) == 1
    assert len(client(prod).search_model_versions(f"name = '{name}'")) == 1

    # The prod copy is gated and rolled back like any version: its held-out rows came along.
    evaluated = run_cli("evaluate", "--tracking-uri", prod, "--model-name", name, "--version", "1")
    assert evaluated.code == 0, evaluated.stderr


def test_copy_refuses_a_version_whose_files_do_not_match_its_digest(
    run_cli, mlflow_server: str, second_mlflow_server: str
) -> None:
    name = f"tampered-{uuid.uuid4().hex[:8]}"
    assert (
        run_cli(
            "train", "--tracking-uri", mlflow_server, "--model-name", name, "--spec", "iris"
        ).code
        == 0
    )
    client(mlflow_server).set_model_version_tag(name, "1", "model_digest", "sha256:" + "0" * 64)

    refused = run_cli(
        "promote", "--model-name", name, "--version", "1",
        "--from-tracking-uri", mlflow_server, "--to-tracking-uri", second_mlflow_server,
    )  # fmt: skip

    assert refused.code == 1
    assert "model digest mismatch" in refused.stderr
    assert "sha256:" + "0" * 64 in refused.stderr
    assert client(second_mlflow_server).search_model_versions(f"name = '{name}'") == []


def test_copy_refuses_a_gate_failed_version_unless_forced_with_a_recorded_reason(
    run_cli, mlflow_server: str, second_mlflow_server: str
) -> None:
    dev, prod = mlflow_server, second_mlflow_server
    name = f"gatefail-{uuid.uuid4().hex[:8]}"
    dev_common = ("--tracking-uri", dev, "--model-name", name, "--spec", "iris")
    assert run_cli("train", *dev_common).code == 0
    assert run_cli("promote", "--tracking-uri", dev, "--model-name", name).code == 0
    weaker = run_cli("train", *dev_common, "--param", "C=0.001", "--json")
    assert weaker.code == 3, weaker.stderr
    assert client(dev).get_model_version(name, "2").tags["gate.passed"] == "false"
    across = ("--model-name", name, "--version", "2", "--from-tracking-uri", dev,
              "--to-tracking-uri", prod)  # fmt: skip

    refused = run_cli("promote", *across)
    assert refused.code == 1
    assert "has no passed quality gate" in refused.stderr
    assert client(prod).search_model_versions(f"name = '{name}'") == []
    assert run_cli("promote", *across, "--force").code == 1, "--force needs a --reason"

    forced = run_cli("promote", *across, "--force", "--reason", "hotfix 7", "--json")
    assert forced.code == 0, forced.stderr
    (entry,) = history(name, tracking_uri=prod)
    assert (entry.action, entry.forced, entry.reason) == ("import", True, "hotfix 7")
    assert entry.evidence["gate_passed"] is False


def rogue_copy(uri: str, name: str, version: str, into: Path) -> Path:
    """The version's files plus one planted file (what a key-less login would serve)."""
    files = Path(
        download_artifacts(
            artifact_uri=client(uri).get_model_version_download_uri(name, version),
            dst_path=str(into / "genuine"),
            tracking_uri=uri,
        )
    )
    rogue = into / "rogue"
    shutil.copytree(files, rogue)
    (rogue / "registered_model_meta").unlink(missing_ok=True)
    (rogue / "ROGUE.txt").write_text("planted by a login without the ledger key\n")
    return rogue


def plant(uri: str, name: str, files: Path, tags: dict[str, str]) -> str:
    """A version registered from ``files`` with ``tags``, as any pipeline login may."""
    raw = client(uri)
    found = raw.get_experiment_by_name(name)
    run = raw.create_run(found.experiment_id if found else raw.create_experiment(name))
    raw.log_artifacts(run.info.run_id, str(files), "model")
    raw.set_terminated(run.info.run_id)
    if not raw.search_registered_models(f"name = '{name}'"):
        raw.create_registered_model(name)
    source = f"{run.info.artifact_uri}/model"
    return str(raw.create_model_version(name, source, run.info.run_id, tags=tags).version)


def test_copy_refuses_a_champion_and_gate_the_source_ledger_does_not_sign(
    run_cli, mlflow_server: str, second_mlflow_server: str, tmp_path: Path
) -> None:
    """The pipeline login without the ledger key registers other files with a matching digest
    and passed gate tags and moves dev's champion to them; the release job's copy refuses."""
    dev, prod = mlflow_server, second_mlflow_server
    name = f"rogue-{uuid.uuid4().hex[:8]}"
    assert run_cli("train", "--tracking-uri", dev, "--model-name", name, "--spec", "iris").code == 0
    assert run_cli("promote", "--tracking-uri", dev, "--model-name", name).code == 0
    rogue = rogue_copy(dev, name, "1", tmp_path)
    planted = plant(dev, name, rogue, {
        "model_digest": model_digest(rogue), "gate.passed": "true",
        "gate.verdict": json.dumps({"passed": True}),
    })  # fmt: skip
    client(dev).set_registered_model_alias(name, "champion", planted)
    across = ("--model-name", name, "--from-tracking-uri", dev, "--to-tracking-uri", prod)

    refused = run_cli("promote", *across, "--reason", "release v9")
    assert refused.code == 1
    assert (
        f"points at version {planted} but the source's signed ledger says the champion is 1"
        in refused.stderr
    )
    explicit = run_cli("promote", *across, "--version", planted, "--reason", "release v9")
    assert explicit.code == 1
    assert "has no passed quality gate in the source's signed ledger" in explicit.stderr
    assert client(prod).search_model_versions(f"name = '{name}'") == []

    forced = run_cli("promote", *across, "--force", "--reason", "drill 3", "--json")
    assert forced.code == 0, forced.stderr
    (entry,) = history(name, tracking_uri=prod)
    assert (entry.action, entry.forced, entry.reason) == ("import", True, "drill 3")
    assert entry.evidence["gate_passed"] is False
    assert len(entry.evidence["refused_unforced"]) == 2


def test_copy_refuses_a_version_already_in_the_target_whose_files_differ(
    run_cli, mlflow_server: str, second_mlflow_server: str, tmp_path: Path
) -> None:
    """A version planted in prod under dev's digest tag, with other files, is not reused."""
    dev, prod = mlflow_server, second_mlflow_server
    name = f"planted-{uuid.uuid4().hex[:8]}"
    assert run_cli("train", "--tracking-uri", dev, "--model-name", name, "--spec", "iris").code == 0
    digest = client(dev).get_model_version(name, "1").tags["model_digest"]
    planted = plant(prod, name, rogue_copy(dev, name, "1", tmp_path), {"model_digest": digest})

    refused = run_cli("promote", "--model-name", name, "--version", "1",
                      "--from-tracking-uri", dev, "--to-tracking-uri", prod)  # fmt: skip
    assert refused.code == 1
    assert f"model digest mismatch for version {planted} already at {prod}" in refused.stderr
    assert f"the model_digest tag says {digest}" in refused.stderr
    assert client(prod).get_registered_model(name).aliases == {}
    assert history(name, tracking_uri=prod) == []

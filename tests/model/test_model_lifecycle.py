"""Train, gate, promote, roll back and list history through the real CLI and Python API.

Each scenario runs against the embedded store (a private SQLite file) and against a real
``mlflow server`` on localhost; model names are unique per test so the shared server stays clean.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient
from sklearn.dummy import DummyClassifier

from model import promotion
from model.data import load_spec_dataset
from model.errors import PromotionError
from model.specs import load_spec

TRAIN_JSON_KEYS = {
    "model_name",
    "version",
    "model_uri",
    "run_id",
    "tracking_uri",
    "metrics",
    "gate",
    "dataset_hash",
    "model_digest",
    "candidate",
}


@pytest.fixture(params=["embedded", "server"])
def tracking_uri(
    request: pytest.FixtureRequest, sqlite_uri: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    if request.param == "embedded":
        return sqlite_uri
    server = request.getfixturevalue("mlflow_server")
    for key, value in server.pipeline_env.items():  # the CLI logs in as CI does: from the env
        monkeypatch.setenv(key, value)
    return server.url


@pytest.fixture
def model_name() -> str:
    return f"iris-{uuid.uuid4().hex[:8]}"


def cli_json(run_cli, *args: str) -> Any:
    result = run_cli(*args, "--json")
    assert result.code == 0, result.stderr
    return result.json()


def champion(tracking_uri: str, model_name: str) -> str:
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return str(client.get_model_version_by_alias(model_name, "champion").version)


def test_round_trip_train_promote_rollback_history(
    run_cli, tracking_uri: str, model_name: str
) -> None:
    common = ("--tracking-uri", tracking_uri, "--model-name", model_name)
    train = ("train", *common, "--spec", "iris")

    first = cli_json(run_cli, *train)
    assert set(first) == TRAIN_JSON_KEYS
    assert (first["version"], first["model_uri"]) == ("1", f"models:/{model_name}/1")
    assert first["gate"]["passed"] and first["gate"]["champion_version"] is None
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    assert str(client.get_model_version_by_alias(model_name, "candidate").version) == "1"
    tags = client.get_model_version(model_name, "1").tags
    assert tags["dataset_hash"] == first["dataset_hash"]
    assert tags["gate.passed"] == "true"
    assert tags["model_digest"] == first["model_digest"]
    assert first["model_digest"].startswith("sha256:") and len(first["model_digest"]) == 71
    # The spec's DVC-tracked file at its recorded content hash (model/specs/iris.yaml).
    assert tags["dataset_uri"] == f"dvc://./data/iris.csv@{tags['data.dvc_md5']}"
    assert tags["metric.accuracy"] == f"{first['metrics']['accuracy']:.6f}"
    assert len(tags["git_commit"]) >= 40 or tags["git_commit"] == "unknown"

    promoted = cli_json(run_cli, "promote", *common)
    assert (promoted["from_version"], promoted["to_version"]) == (None, "1")

    second = cli_json(run_cli, *train)
    assert second["version"] == "2"
    assert (second["metrics"], second["dataset_hash"]) == (first["metrics"], first["dataset_hash"])
    assert second["gate"]["passed"] and second["gate"]["champion_version"] == "1"

    cli_json(
        run_cli, "promote", *common, "--actor", "alice", "--reason", "same quality, newer code"
    )
    assert champion(tracking_uri, model_name) == "2"

    rolled = cli_json(run_cli, "rollback", *common, "--reason", "latency regression")
    assert (rolled["action"], rolled["from_version"], rolled["to_version"]) == (
        "rollback",
        "2",
        "1",
    )
    assert champion(tracking_uri, model_name) == "1"

    ledger = cli_json(run_cli, "history", *common)["history"]
    assert [(r["action"], r["from_version"], r["to_version"]) for r in ledger] == [
        ("candidate", None, "1"),
        ("promote", None, "1"),
        ("candidate", "1", "2"),
        ("promote", "1", "2"),
        ("rollback", "2", "1"),
    ]
    assert [r["sequence"] for r in ledger] == [1, 2, 3, 4, 5]
    assert {r["state"] for r in ledger} == {"committed"}
    assert ledger[2]["evidence"]["model_digest"] == second["model_digest"]
    assert ledger[2]["evidence"]["gate"]["passed"] is True
    assert ledger[3]["actor"] == "alice"
    assert ledger[3]["reason"] == "same quality, newer code"
    assert ledger[3]["evidence"]["gate"]["passed"] is True
    assert all(record["recorded_at"].endswith("+00:00") for record in ledger)

    again = run_cli("rollback", *common)
    assert again.code == 1
    assert f"{model_name} has no earlier champion to roll back to" in again.stderr
    assert champion(tracking_uri, model_name) == "1"

    table = run_cli("history", *common)
    assert "rollback   2     1   committed" in table.stdout
    assert "latency regression" in table.stdout


def test_gate_failure_is_registered_and_tagged_but_leaves_candidate_untouched(
    run_cli, tracking_uri: str, model_name: str
) -> None:
    common = ("--tracking-uri", tracking_uri, "--model-name", model_name)
    cli_json(run_cli, "train", *common, "--spec", "iris")
    cli_json(run_cli, "promote", *common)

    weaker = run_cli("train", *common, "--spec", "iris", "--param", "C=0.001", "--json")

    assert weaker.code == 3, weaker.stderr
    result = weaker.json()
    assert (result["version"], result["candidate"], result["gate"]["passed"]) == (
        "2",
        False,
        False,
    )
    assert (
        "gate FAILED; version 2 is tagged with its verdict, 'candidate' unmoved" in weaker.stderr
    )
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    assert str(client.get_model_version_by_alias(model_name, "candidate").version) == "1"
    assert client.get_model_version(model_name, "2").aliases == []
    tags = client.get_model_version(model_name, "2").tags
    assert (tags["gate.passed"], tags["gate.champion_version"]) == ("false", "1")
    assert json.loads(tags["gate.verdict"])["passed"] is False
    assert tags["model_digest"] == result["model_digest"]
    people = run_cli("train", *common, "--spec", "iris", "--param", "C=0.001")
    assert people.code == 3
    assert "quality gate FAILED: version 3 vs champion 1" in people.stdout
    assert "NOT moved" in people.stdout


def test_schema_mismatch_fails_the_gate_before_any_alias_moves(
    run_cli, sqlite_uri: str, tmp_path: Path
) -> None:
    common = ("--tracking-uri", sqlite_uri, "--model-name", "flowers")
    cli_json(run_cli, "train", *common, "--spec", "iris")
    cli_json(run_cli, "promote", *common)
    frame = load_spec_dataset(load_spec("iris")).frame.drop(columns=["petal_width"])
    data = tmp_path / "three.csv"
    frame.to_csv(data, index=False)
    schema = load_spec("iris").dataset_schema.model_dump()
    schema["features"] = schema["features"][:3]
    schema["quality"]["max_duplicate_fraction"] = 0.1
    schema_file = tmp_path / "three.json"
    schema_file.write_text(json.dumps(schema))

    result = run_cli("train", *common, "--data", data, "--schema", schema_file, "--json")

    assert result.code == 3, result.stderr
    check = result.json()["gate"]["checks"][0]
    assert check["name"] == "input schema matches champion" and not check["passed"]
    assert (
        "challenger features ['sepal_length', 'sepal_width', 'petal_length'] != "
        in (check["detail"])
    )
    client = MlflowClient(tracking_uri=sqlite_uri, registry_uri=sqlite_uri)
    assert str(client.get_model_version_by_alias("flowers", "candidate").version) == "1"
    assert str(client.get_model_version_by_alias("flowers", "champion").version) == "1"


def test_failed_gate_refuses_promotion_unless_forced(run_cli, sqlite_uri: str) -> None:
    common = ("--tracking-uri", sqlite_uri)
    cli_json(run_cli, "train", *common)
    cli_json(run_cli, "promote", *common)
    assert run_cli("train", *common, "--param", "C=0.01").code == 3
    evaluated = run_cli("evaluate", *common, "--version", "2", "--json")
    assert evaluated.code == 3
    assert evaluated.json()["champion_version"] == "1"

    refused = run_cli("promote", *common, "--version", "2")
    assert refused.code == 1
    assert "iris version 2 failed the quality gate against champion 1" in refused.stderr
    assert "accuracy not worse: challenger" in refused.stderr

    unexplained = run_cli("promote", *common, "--version", "2", "--force")
    assert unexplained.code == 1
    assert "--force needs a --reason" in unexplained.stderr
    assert champion(sqlite_uri, "iris") == "1"

    forced = cli_json(
        run_cli,
        "promote",
        *common,
        "--version",
        "2",
        "--force",
        "--reason",
        "hotfix for a data bug",
    )
    assert forced["forced"] is True
    assert forced["evidence"]["gate"]["passed"] is False
    assert champion(sqlite_uri, "iris") == "2"


def test_gate_thresholds_are_configurable(run_cli, sqlite_uri: str) -> None:
    common = ("--tracking-uri", sqlite_uri)
    cli_json(run_cli, "train", *common)
    cli_json(run_cli, "promote", *common)
    cli_json(run_cli, "train", *common)

    strict = run_cli("evaluate", *common, "--min-improvement", "0.01", "--json")

    assert strict.code == 3
    checks = {check["name"]: check["passed"] for check in strict.json()["checks"]}
    assert checks == {
        "f1_macro absolute improvement": False,
        "f1_macro relative improvement": True,
        "accuracy not worse": True,
        "f1_macro not worse": True,
    }


def test_python_api_records_caller_evidence(tracking_uri: str, model_name: str, run_cli) -> None:
    cli_json(
        run_cli,
        "train",
        "--tracking-uri",
        tracking_uri,
        "--model-name",
        model_name,
        "--spec",
        "iris",
    )

    record = promotion.promote(
        model_name,
        tracking_uri=tracking_uri,
        actor="abtest",
        reason="A/B test significant",
        evidence={"abtest": {"p_value": 0.001, "winner": "challenger"}},
    )

    assert promotion.history(model_name, tracking_uri=tracking_uri)[-1] == record
    assert record.evidence["abtest"] == {"p_value": 0.001, "winner": "challenger"}
    with pytest.raises(PromotionError, match="is already the champion"):
        promotion.promote(model_name, 1, tracking_uri=tracking_uri)


def test_registered_model_loads_without_importing_model_package(
    run_cli, tracking_uri: str, model_name: str, tmp_path: Path
) -> None:
    common = ("--tracking-uri", tracking_uri, "--model-name", model_name)
    cli_json(run_cli, "train", *common, "--spec", "iris")
    cli_json(run_cli, "promote", *common)
    script = f"""
import json, sys
import mlflow, pandas as pd
rows = pd.DataFrame([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]],
                    columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
by_alias = mlflow.pyfunc.load_model("models:/{model_name}@champion")
by_version = mlflow.sklearn.load_model("models:/{model_name}/1")
print(json.dumps({{
    "alias": [str(p) for p in by_alias.predict(rows)],
    "proba_columns": [str(c) for c in by_version.classes_],
    "drift_features": sorted(by_alias.metadata.metadata["drift_reference"]["features"]),
    "imported_model": "model" in sys.modules,
}}))
"""
    logins = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")  # the server's, if any
    credentials = {key: os.environ[key] for key in logins if key in os.environ}
    env = {"MLFLOW_TRACKING_URI": tracking_uri, "PATH": "/usr/bin:/bin", **credentials}
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert completed.returncode == 0, completed.stderr
    loaded = json.loads(completed.stdout.strip().splitlines()[-1])
    assert loaded == {
        "alias": ["setosa", "virginica"],
        "proba_columns": ["setosa", "versicolor", "virginica"],
        "drift_features": ["petal_length", "petal_width", "sepal_length", "sepal_width"],
        "imported_model": False,
    }


def test_nothing_to_promote_or_roll_back_is_explained(run_cli, sqlite_uri: str) -> None:
    promoted = run_cli("promote", "--tracking-uri", sqlite_uri)
    assert promoted.code == 1
    assert "registered model 'iris' has no 'candidate' alias" in promoted.stderr
    rolled = run_cli("rollback", "--tracking-uri", sqlite_uri, "--json")
    assert rolled.code == 1
    assert rolled.json()["error"]["message"] == (
        "iris has no earlier champion to roll back to (champions so far: none)"
    )
    assert run_cli("history", "--tracking-uri", sqlite_uri).stdout.strip() == (
        "no promotions of iris yet"
    )


def test_version_registered_elsewhere_cannot_be_gated(
    run_cli, sqlite_uri: str, tmp_path: Path
) -> None:
    client = MlflowClient(tracking_uri=sqlite_uri, registry_uri=sqlite_uri)
    run = client.create_run(client.create_experiment("elsewhere"))
    model_dir = tmp_path / "m"
    mlflow.sklearn.save_model(DummyClassifier().fit([[0.0]], ["a"]), str(model_dir))
    client.log_artifacts(run.info.run_id, str(model_dir), "m")
    client.create_registered_model("iris")
    client.create_model_version("iris", f"{run.info.artifact_uri}/m", run.info.run_id)

    result = run_cli("evaluate", "--tracking-uri", sqlite_uri, "--version", "1")

    assert result.code == 1
    assert "iris version 1 has no held-out data" in result.stderr


def test_training_leaves_process_wide_mlflow_settings_alone(
    run_cli, sqlite_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())

    cli_json(run_cli, "train", "--tracking-uri", sqlite_uri)

    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == before
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert "MLFLOW_REGISTRY_URI" not in os.environ

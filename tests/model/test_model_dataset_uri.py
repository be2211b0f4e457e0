"""``--data`` takes a URI (the in-cluster training Job's entry point): the file is fetched through
MLflow's artifact stores and its content hash is recorded on the run and the version."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from mlflow import MlflowClient

from model.data import load_spec_dataset
from model.specs import load_spec


def iris_csv(directory: Path) -> Path:
    path = directory / "iris.csv"
    load_spec_dataset(load_spec("iris")).frame.to_csv(path, index=False)
    return path


def test_training_on_a_dataset_in_the_registry_records_its_content_hash(
    run_cli, mlflow_server: str, tmp_path: Path
) -> None:
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    holder = client.create_run(client.create_experiment(f"datasets-{uuid.uuid4().hex[:8]}"))
    csv = iris_csv(tmp_path)
    client.log_artifact(holder.info.run_id, str(csv), "data")
    uri = f"runs:/{holder.info.run_id}/data/iris.csv"
    name = f"iris-uri-{uuid.uuid4().hex[:8]}"

    result = run_cli(
        "train", "--tracking-uri", mlflow_server, "--model-name", name, "--spec", "iris",
        "--data", uri, "--json",
    )  # fmt: skip

    assert result.code == 0, result.stderr
    trained = result.json()
    content = hashlib.sha256(csv.read_bytes()).hexdigest()
    tags = client.get_model_version(name, trained["version"]).tags
    assert (tags["dataset_uri"], tags["dataset_content_sha256"]) == (uri, content)
    run = client.get_run(trained["run_id"])
    assert run.data.tags["dataset_content_sha256"] == content
    assert run.data.params["dataset.source"] == uri


def test_file_uri_and_missing_uri(run_cli, sqlite_uri: str, tmp_path: Path) -> None:
    csv = iris_csv(tmp_path)
    common = ("train", "--tracking-uri", sqlite_uri, "--spec", "iris", "--json")

    local = run_cli(*common, "--data", csv.as_uri())
    missing = run_cli(*common, "--data", f"file://{tmp_path}/absent.csv")

    assert local.code == 0, local.stderr
    assert local.json()["dataset_hash"] == run_cli(*common, "--data", csv).json()["dataset_hash"]
    assert missing.code == 1
    assert f"cannot fetch data file://{tmp_path}/absent.csv" in missing.json()["error"]["message"]

"""Training specs: wine and a regressor train and register on a real ``mlflow server``; a spec
is validated like any input; packaging fits every kind of scikit-learn model ``model/`` makes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.models import Model
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from model.data import load_spec_dataset
from model.digest import model_digest
from model.errors import ConfigurationError
from model.packaging import save_model
from model.specs import SPECS_DIR, load_spec, load_spec_file, spec_names

WINE_FEATURES = 13


def signature_of(model_dir: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    signature = Model.load(str(model_dir)).signature.to_dict()
    inputs = [(c["name"], c["type"]) for c in json.loads(signature["inputs"])]
    outputs = [(c.get("name"), c["type"]) for c in json.loads(signature["outputs"])]
    return inputs, outputs


def download(uri: str, model_name: str, version: str, destination: Path) -> Path:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    source = client.get_model_version_download_uri(model_name, version)
    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=str(destination), tracking_uri=uri
        )
    )


def test_every_shipped_spec_loads_and_iris_is_one_among_several() -> None:
    assert {"iris", "wine", "diabetes"} <= set(spec_names())
    for name in spec_names():
        spec = load_spec(name)
        dataset = load_spec_dataset(spec)
        assert list(dataset.features.columns) == spec.dataset_schema.feature_names
    assert load_spec("no-such-model") is None


def test_wine_trains_and_registers_with_its_own_spec(
    run_cli, mlflow_server: str, tmp_path: Path
) -> None:
    name = f"wine-{uuid.uuid4().hex[:8]}"

    result = run_cli(
        "train", "--tracking-uri", mlflow_server, "--model-name", name, "--spec", "wine", "--json"
    )

    assert result.code == 0, result.stderr
    trained = result.json()
    assert trained["candidate"] is True and trained["gate"]["passed"] is True
    assert trained["metrics"]["accuracy"] > 0.9
    assert {"precision_0", "recall_1", "precision_2"} <= set(trained["metrics"])
    assert "accuracy" in trained["gate"]["thresholds"]["guarded_metrics"]
    model_dir = download(mlflow_server, name, trained["version"], tmp_path)
    inputs, outputs = signature_of(model_dir)
    assert len(inputs) == WINE_FEATURES and {kind for _, kind in inputs} == {"double"}
    assert inputs[-2:] == [("od280_od315_of_diluted_wines", "double"), ("proline", "double")]
    assert outputs == [("cultivar", "long")]  # integer labels, as shipped by scikit-learn
    metadata = Model.load(str(model_dir)).metadata
    assert metadata["model_kind"] == {
        "type": "classifier",
        "predict_proba": True,
        "classes": ["0", "1", "2"],
    }
    drift = metadata["drift_reference"]["features"]["proline"]
    assert len(drift["bin_edges"]) <= 9  # the spec's 8 bins
    assert model_digest(model_dir) == trained["model_digest"]
    pyfunc = mlflow.pyfunc.load_model(str(model_dir))
    rows = (
        load_wine(as_frame=True)
        .data.head(3)
        .set_axis(load_spec("wine").dataset_schema.feature_names, axis=1)
    )
    assert set(np.asarray(pyfunc.predict(rows)).tolist()) <= {0, 1, 2}


def test_regressor_trains_and_registers_with_regression_metrics(
    run_cli, mlflow_server: str, tmp_path: Path
) -> None:
    name = f"diabetes-{uuid.uuid4().hex[:8]}"
    common = ("--tracking-uri", mlflow_server, "--model-name", name, "--spec", "diabetes")

    first = run_cli("train", *common, "--json")
    assert first.code == 0, first.stderr
    assert run_cli("promote", "--tracking-uri", mlflow_server, "--model-name", name).code == 0
    worse = run_cli("train", *common, "--param", "alpha=100000", "--json")

    trained = first.json()
    assert set(trained["metrics"]) == {"rmse", "mae", "r2"}
    assert 0.3 < trained["metrics"]["r2"] < 1.0
    model_dir = download(mlflow_server, name, trained["version"], tmp_path)
    inputs, outputs = signature_of(model_dir)
    assert [n for n, _ in inputs] == load_spec("diabetes").dataset_schema.feature_names
    assert outputs == [("progression", "double")]
    assert Model.load(str(model_dir)).metadata["model_kind"] == {"type": "regressor"}
    # rmse is an error: a larger one fails its guard (lower is better).
    assert worse.code == 3, worse.stderr
    checks = {c["name"]: c["passed"] for c in worse.json()["gate"]["checks"]}
    assert checks["rmse not worse"] is False and checks["r2 not worse"] is False


@pytest.mark.parametrize(
    ("estimator", "labels", "proba", "output"),
    [
        (LogisticRegression(), ["a", "b"], True, "string"),
        (LogisticRegression(), [0, 1], True, "long"),
        (LinearSVC(), ["a", "b"], False, "string"),
        (Ridge(), None, None, "double"),
    ],
    ids=["string-labels", "integer-labels", "no-predict-proba", "regressor"],
)
def test_packaging_fits_each_kind_of_model(
    tmp_path: Path, estimator, labels, proba, output
) -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(40, 3)), columns=["f1", "f2", "f3"])
    y = (
        pd.Series(x["f1"] * 2.0 + 1.0)
        if labels is None
        else pd.Series([labels[int(v > 0)] for v in x["f1"]])
    )
    pipeline = Pipeline([("scale", StandardScaler()), ("estimator", estimator)]).fit(x, y)

    save_model(pipeline, x, "label", None, tmp_path / "m")

    inputs, outputs = signature_of(tmp_path / "m")
    assert inputs == [("f1", "double"), ("f2", "double"), ("f3", "double")]
    assert outputs == [("label", output)]
    kind = Model.load(str(tmp_path / "m")).metadata["model_kind"]
    if labels is None:
        assert kind == {"type": "regressor"}
    else:
        assert kind == {
            "type": "classifier",
            "predict_proba": proba,
            "classes": [str(label) for label in labels],
        }
    loaded = mlflow.sklearn.load_model(str(tmp_path / "m"))
    assert list(loaded.predict(x.head(4))) == list(pipeline.predict(x.head(4)))


def test_digest_covers_every_file_but_registered_model_meta(tmp_path: Path) -> None:
    model_dir = tmp_path / "m"
    (model_dir / "sub").mkdir(parents=True)
    (model_dir / "MLmodel").write_bytes(b"flavors: {}\n")
    (model_dir / "sub" / "model.skops").write_bytes(b"\x00\x01")
    first = model_digest(model_dir)

    (model_dir / "registered_model_meta").write_text("model_name: x\n")
    assert model_digest(model_dir) == first
    (model_dir / "sub" / "model.skops").write_bytes(b"\x00\x02")
    assert model_digest(model_dir) != first
    (model_dir / "sub" / "model.skops").write_bytes(b"\x00\x01")
    (model_dir / "sub" / "model.skops").rename(model_dir / "sub" / "renamed.skops")
    assert model_digest(model_dir) != first


def test_digest_follows_the_written_contract(tmp_path: Path) -> None:
    """Computed by hand from docs/contracts.md, independently of ``model.digest``."""
    import hashlib

    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_bytes(b"x")
    (tmp_path / "a.txt").write_bytes(b"hello")
    manifest = b"".join(
        path.encode() + b"\0" + hashlib.sha256(data).hexdigest().encode() + b"\n"
        for path, data in [("a.txt", b"hello"), ("b/x", b"x")]
    )
    assert model_digest(tmp_path) == "sha256:" + hashlib.sha256(manifest).hexdigest()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"estimator": {"name": "ridge"}}, "estimator 'ridge' does not fit a classifier"),
        ({"estimator": {"name": "xgboost"}}, "unknown estimator 'xgboost'"),
        ({"dataset": {}}, "give exactly one of `dvc` (a DVC-tracked file), `sklearn`"),
        ({"drift": {"bins": 0}}, "drift.bins: Input should be greater than or equal to 1"),
        ({"name": "Wine"}, "name: String should match pattern"),
    ],
)
def test_invalid_spec_names_the_file_and_field(tmp_path: Path, change: dict, message: str) -> None:
    import yaml

    spec = yaml.safe_load((SPECS_DIR / "wine.yaml").read_text())
    path = tmp_path / "wine.yaml"
    path.write_text(yaml.safe_dump({**spec, **change}))
    with pytest.raises(ConfigurationError, match="training spec .*wine.yaml is invalid") as raised:
        load_spec_file(path)
    assert message in str(raised.value)


def test_estimator_of_the_wrong_task_is_refused(run_cli, sqlite_uri: str) -> None:
    result = run_cli(
        "train", "--tracking-uri", sqlite_uri, "--model-name", "diabetes",
        "--estimator", "random_forest",
    )  # fmt: skip
    assert result.code == 1
    assert "random_forest is not a regressor estimator; for this target choose one of" in (
        result.stderr
    )

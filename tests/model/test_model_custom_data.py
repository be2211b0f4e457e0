"""Any CSV/Parquet file with a declared schema trains, registers and gates like iris."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from sklearn.datasets import load_wine

from model.errors import ConfigurationError
from model.registry import load_version
from model.store import Store
from model.training import TrainingConfig, split

WINE_FEATURES = ["alcohol", "malic_acid", "color_intensity", "proline"]


def write_wine(directory: Path, suffix: str) -> tuple[Path, Path]:
    """Four wine features with integer class codes 0-2, and a schema derived from the data."""
    bunch = load_wine(as_frame=True)
    frame = bunch.frame[[*WINE_FEATURES, "target"]]
    data = directory / f"wine{suffix}"
    if suffix == ".csv":
        frame.to_csv(data, index=False)
    else:
        frame.to_parquet(data, index=False)
    schema = {
        "name": "wine",
        "features": [
            {"name": name, "min": float(frame[name].min()), "max": float(frame[name].max())}
            for name in WINE_FEATURES
        ],
        "target": {"name": "target", "classes": [0, 1, 2]},
    }
    schema_path = directory / "wine.yaml"
    schema_path.write_text(yaml.safe_dump(schema))
    return data, schema_path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_file_dataset_is_trained_and_registered(
    run_cli, sqlite_uri: str, tmp_path: Path, suffix: str
) -> None:
    data, schema = write_wine(tmp_path, suffix)

    result = run_cli(
        "train", "--data", data, "--schema", schema, "--model-name", "wine4",
        "--estimator", "random_forest", "--param", "n_estimators=20",
        "--tracking-uri", sqlite_uri, "--json",
    )  # fmt: skip

    assert result.code == 0, result.stderr
    trained = result.json()
    assert (trained["model_name"], trained["version"]) == ("wine4", "1")
    assert {"precision_0", "recall_2"} <= set(trained["metrics"])
    assert trained["gate"]["passed"]
    client = MlflowClient(tracking_uri=sqlite_uri, registry_uri=sqlite_uri)
    run = client.get_run(trained["run_id"])
    assert run.data.params["dataset.source"] == str(data.resolve())
    assert run.data.params["estimator.n_estimators"] == "20"
    loaded = load_version(Store.open(sqlite_uri), "wine4", "1")
    assert list(loaded.classes_) == ["0", "1", "2"]
    predicted = loaded.predict(load_wine(as_frame=True).frame[WINE_FEATURES])
    assert set(predicted) == {"0", "1", "2"}


def test_too_small_a_held_out_share_is_explained() -> None:
    frame = pd.DataFrame({"x": range(6), "y": ["a", "b"] * 3})
    with pytest.raises(ConfigurationError, match=r"cannot hold out 0.1 of 6 rows"):
        split(frame[["x"]], frame["y"], TrainingConfig.parse(test_size=0.1))

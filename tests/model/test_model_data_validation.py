"""The data validation gate names every violation, and failing data stops ``train``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from model.data import load_file_dataset, load_spec_dataset
from model.errors import ConfigurationError, DataValidationError
from model.schema import load_schema
from model.specs import load_spec
from model.validation import find_violations, validate

IRIS = load_spec("iris")
IRIS_SCHEMA = IRIS.dataset_schema
FEATURES = IRIS_SCHEMA.feature_names


def iris_frame() -> pd.DataFrame:
    return load_spec_dataset(IRIS).frame.copy()


def write_schema(path: Path, **overrides: object) -> Path:
    path.write_text(yaml.safe_dump({**IRIS_SCHEMA.model_dump(), **overrides}))
    return path


def test_iris_passes_the_gate() -> None:
    validate(load_spec_dataset(IRIS))


def test_every_violation_is_reported_at_once() -> None:
    frame = iris_frame()
    frame.loc[3, "sepal_width"] = 9.9
    frame.loc[7, "petal_length"] = None
    frame.loc[10, "species"] = "daisy"
    frame["row_id"] = range(len(frame))

    assert find_violations(frame, IRIS_SCHEMA) == [
        "undeclared columns ['row_id']; the schema declares "
        "['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'species']",
        "column 'sepal_width': 1 value(s) outside [2.0, 4.5] at rows [3], observed min 2.0 max 9.9",
        "column 'species': 1 unknown label(s) ['daisy']; expected one of "
        "['setosa', 'versicolor', 'virginica']",
        "column 'petal_length': 1 missing value(s) at rows [7] (0.7%); at most 0.0% allowed",
    ]


def test_types_missing_columns_and_infinities() -> None:
    frame = iris_frame().drop(columns=["petal_width"])
    frame["sepal_length"] = frame["sepal_length"].astype(object)
    frame.loc[0, "sepal_length"] = "five"
    frame.loc[[1, 2], "sepal_width"] = float("inf")

    assert find_violations(frame, IRIS_SCHEMA) == [
        "missing columns ['petal_width']; the schema declares "
        "['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'species']",
        "column 'sepal_length': 1 non-numeric value(s) at rows [0], e.g. 'five'; expected float",
        "column 'sepal_width': 2 value(s) outside [2.0, 4.5] at rows [1, 2], "
        "observed min 2.0 max 4.4",
        # Without petal_width, five iris rows repeat another row.
        "5 duplicate row(s) at rows [34, 45, 132, 142, 144] (3.3%); at most 1.0% allowed",
    ]


def test_duplicates_and_class_balance() -> None:
    frame = iris_frame()
    setosa = frame[frame["species"] == "setosa"]
    skewed = pd.concat([frame, setosa, setosa], ignore_index=True)

    violations = find_violations(skewed, IRIS_SCHEMA)

    assert violations == [
        "class imbalance 3.00 (largest/smallest class, counts "
        "{'setosa': 150, 'versicolor': 50, 'virginica': 50}) exceeds the limit 1.5",
        "101 duplicate row(s) at rows [142, 150, 151, 152, 153, ... 96 more] (40.4%); "
        "at most 1.0% allowed",
    ]


def test_absent_class_and_integer_type() -> None:
    schema = IRIS_SCHEMA.model_copy(
        update={
            "features": [
                IRIS_SCHEMA.features[0].model_copy(update={"type": "int"}),
                *IRIS_SCHEMA.features[1:],
            ]
        }
    )
    frame = iris_frame()
    frame = frame[frame["species"] != "virginica"].drop_duplicates()

    violations = find_violations(frame, schema)

    assert violations == [
        "column 'sepal_length': 85 non-integer value(s) at rows [0, 1, 2, 3, 5, ... 80 more]; "
        "expected int",
        "column 'species': declared classes ['virginica'] have no rows",
    ]


def test_csv_with_schema_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "iris.csv"
    iris_frame().to_csv(data, index=False)
    schema = load_schema(write_schema(tmp_path / "iris.yaml"))

    dataset = load_file_dataset(data, schema)

    validate(dataset)
    assert dataset.target.iloc[0] == "setosa"
    assert list(dataset.features.columns) == FEATURES


def test_parquet_is_read(tmp_path: Path) -> None:
    data = tmp_path / "iris.parquet"
    iris_frame().to_parquet(data, index=False)
    validate(load_file_dataset(data, IRIS_SCHEMA))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"features": []}, "features: List should have at least 1 item"),
        ({"target": {"name": "species", "classes": ["a"]}}, "target.classes: List should have"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_schema_names_the_field(tmp_path: Path, overrides: dict, message: str) -> None:
    path = write_schema(tmp_path / "schema.yaml", **overrides)
    with pytest.raises(ConfigurationError, match=f"schema file {path} is invalid") as raised:
        load_schema(path)
    assert message in str(raised.value)


def test_unsupported_file_type(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError, match=r"unsupported extension; expected one of \['.csv', '.parquet'\]"
    ):
        load_file_dataset(tmp_path / "iris.xlsx", IRIS_SCHEMA)


def test_failing_data_stops_train_with_the_report(tmp_path: Path, run_cli, sqlite_uri: str) -> None:
    frame = iris_frame()
    frame.loc[3, "sepal_width"] = 9.9
    frame.loc[7, "petal_length"] = None
    data = tmp_path / "bad.csv"
    frame.to_csv(data, index=False)
    schema = write_schema(tmp_path / "schema.yaml")

    result = run_cli(
        "train", "--data", data, "--schema", schema, "--tracking-uri", sqlite_uri, "--json"
    )

    assert result.code == 1
    error = result.json()["error"]
    assert error["type"] == "DataValidationError"
    assert error["violations"] == [
        "column 'sepal_width': 1 value(s) outside [2.0, 4.5] at rows [3], observed min 2.0 max 9.9",
        "column 'petal_length': 1 missing value(s) at rows [7] (0.7%); at most 0.0% allowed",
    ]
    assert f"dataset '{data}' failed validation with 2 violation(s)" in result.stderr
    assert not (tmp_path / "mlartifacts").exists()


def test_data_without_a_spec_needs_its_schema(run_cli, sqlite_uri: str, tmp_path: Path) -> None:
    result = run_cli(
        "train", "--data", tmp_path / "x.csv", "--tracking-uri", sqlite_uri, "--model-name", "sales"
    )
    assert result.code == 1
    assert "no training spec for model 'sales': pass --spec (one of ['diabetes', 'iris', " in (
        result.stderr
    )
    assert "or both --data and --schema, or add model/specs/sales.yaml" in result.stderr


def test_violation_error_lists_each_line() -> None:
    error = DataValidationError("d.csv", ["first problem", "second problem"])
    assert str(error) == (
        "dataset 'd.csv' failed validation with 2 violation(s):\n"
        "  - first problem\n"
        "  - second problem"
    )

"""Dataset loading: scikit-learn's iris data, or a CSV/Parquet file with a declared schema."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_iris

from model.errors import ConfigurationError
from model.schema import DatasetSchema, FeatureSpec, QualityLimits, TargetSpec

IRIS_SCHEMA = DatasetSchema(
    name="iris",
    features=[
        FeatureSpec(name="sepal_length", min=4.0, max=8.0),
        FeatureSpec(name="sepal_width", min=2.0, max=4.5),
        FeatureSpec(name="petal_length", min=1.0, max=7.0),
        FeatureSpec(name="petal_width", min=0.1, max=2.5),
    ],
    target=TargetSpec(name="species", classes=["setosa", "versicolor", "virginica"]),
    # scikit-learn's copy of iris holds one repeated row (1 of 150).
    quality=QualityLimits(max_duplicate_fraction=0.01, max_class_imbalance=1.5),
)


@dataclass(frozen=True)
class Dataset:
    """A loaded, not yet validated, table with the schema it claims to follow."""

    frame: pd.DataFrame
    schema: DatasetSchema
    source: str

    @property
    def features(self) -> pd.DataFrame:
        return self.frame[self.schema.feature_names]

    @property
    def target(self) -> pd.Series:
        return self.frame[self.schema.target.name]


def load_iris_dataset() -> Dataset:
    """The iris data shipped with scikit-learn, with contract column names and string labels."""
    bunch = load_iris(as_frame=True)
    frame = bunch.data.copy()
    frame.columns = IRIS_SCHEMA.feature_names
    frame[IRIS_SCHEMA.target.name] = [str(bunch.target_names[code]) for code in bunch.target]
    return Dataset(frame=frame, schema=IRIS_SCHEMA, source="sklearn.datasets.load_iris")


def load_file_dataset(path: Path, schema: DatasetSchema) -> Dataset:
    """Read a CSV or Parquet file; labels are read as strings so class names match the schema."""
    readers = {".csv": _read_csv, ".parquet": _read_parquet}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise ConfigurationError(
            f"data file {path} has an unsupported extension; expected one of {sorted(readers)}"
        )
    if not path.is_file():
        raise ConfigurationError(f"data file {path} does not exist")
    frame = reader(path, schema)
    target = schema.target.name
    if target in frame.columns:
        frame[target] = frame[target].map(lambda label: label if pd.isna(label) else str(label))
    return Dataset(frame=frame, schema=schema, source=str(path.resolve()))


def _read_csv(path: Path, schema: DatasetSchema) -> pd.DataFrame:
    return pd.read_csv(path, dtype={schema.target.name: "object"})


def _read_parquet(path: Path, schema: DatasetSchema) -> pd.DataFrame:
    return pd.read_parquet(path)


def dataset_hash(frame: pd.DataFrame) -> str:
    """A content hash of the table (column names, dtypes and every value, in order)."""
    digest = hashlib.sha256()
    for name, dtype in frame.dtypes.items():
        digest.update(f"{name}:{dtype};".encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()

"""Dataset loading: a scikit-learn bundled dataset, or a CSV/Parquet file at a path or URI.

A URI (``s3://``, ``mlflow-artifacts:/``, ``runs:/``, ``file://``, ...) is fetched through
MLflow's artifact repositories, so any store MLflow reads works; the file's SHA-256 is kept
as ``content_sha256`` so the run records exactly which bytes it trained on. A spec's
DVC-tracked file is read through ``dvc.api`` (``model.versioned_data``) and carries its
``data_version``.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from model.digest import file_sha256
from model.errors import ConfigurationError
from model.schema import DatasetSchema
from model.specs import TrainingSpec
from model.versioned_data import DataVersion, read_versioned

_READERS = {".csv", ".parquet"}


@dataclass(frozen=True)
class Dataset:
    """A loaded, not yet validated, table with the schema it claims to follow."""

    frame: pd.DataFrame
    schema: DatasetSchema
    source: str
    content_sha256: str | None = None
    data_version: DataVersion | None = None

    @property
    def features(self) -> pd.DataFrame:
        return self.frame[self.schema.feature_names]

    @property
    def target(self) -> pd.Series:
        """The label column in its declared type (call after validation)."""
        column = self.frame[self.schema.target.name]
        kind = self.schema.target.type
        if kind == "string":
            return column.astype(str)
        return pd.to_numeric(column).astype("int64" if kind == "int" else "float64")


def load_bundled_dataset(
    loader: str, schema: DatasetSchema, options: dict[str, Any], label_names: bool
) -> Dataset:
    """A dataset shipped inside scikit-learn (``load_iris``, ``load_wine``, ...), no download.

    Its columns are renamed, in order, to the schema's feature names; ``label_names`` maps the
    integer target codes to the dataset's ``target_names``.
    """
    from sklearn import datasets

    load = getattr(datasets, loader, None)
    if load is None or not loader.startswith("load_"):
        raise ConfigurationError(
            f"scikit-learn has no bundled dataset loader {loader!r} (e.g. load_iris, load_wine)"
        )
    bunch = load(as_frame=True, **options)
    frame = bunch.data.copy()
    if len(frame.columns) != len(schema.features):
        raise ConfigurationError(
            f"{loader} has {len(frame.columns)} feature columns {list(frame.columns)}; the "
            f"schema {schema.name!r} declares {len(schema.features)}"
        )
    frame.columns = schema.feature_names
    target = bunch.target
    frame[schema.target.name] = (
        [str(bunch.target_names[code]) for code in target] if label_names else target.to_numpy()
    )
    return Dataset(frame=frame, schema=schema, source=f"sklearn.datasets.{loader}")


def load_file_dataset(
    location: str | Path, schema: DatasetSchema, tracking_uri: str | None = None
) -> Dataset:
    """Read a CSV or Parquet file from a local path or any URI MLflow's artifact stores read.

    ``tracking_uri`` is the server that ``mlflow-artifacts:/`` and ``runs:/`` URIs refer to.
    """
    location = str(location)
    suffix = Path(location.split("?", 1)[0]).suffix.lower()
    if suffix not in _READERS:
        raise ConfigurationError(
            f"data {location} has an unsupported extension; expected one of {sorted(_READERS)}"
        )
    if _is_uri(location):
        with tempfile.TemporaryDirectory() as scratch:
            return _read(_fetch(location, Path(scratch), tracking_uri), schema, location)
    path = Path(location)
    if not path.is_file():
        raise ConfigurationError(f"data file {path} does not exist")
    return _read(path, schema, str(path.resolve()))


def _is_uri(location: str) -> bool:
    scheme, separator, _ = location.partition(":")
    return bool(separator) and len(scheme) > 1 and scheme.replace("-", "").isalnum()


def _fetch(uri: str, destination: Path, tracking_uri: str | None) -> Path:
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    try:
        return Path(
            download_artifacts(
                artifact_uri=uri, dst_path=str(destination), tracking_uri=tracking_uri
            )
        )
    except (MlflowException, OSError) as exc:
        raise ConfigurationError(f"cannot fetch data {uri}: {exc}") from exc


def _read(path: Path, schema: DatasetSchema, source: str) -> Dataset:
    target = schema.target
    if path.suffix.lower() == ".csv":
        # String labels stay text ("01" is not 1); numeric labels are parsed, then validated.
        dtypes = {target.name: "object"} if target.type == "string" else None
        frame = pd.read_csv(path, dtype=dtypes)
    else:
        frame = pd.read_parquet(path)
    if target.type == "string" and target.name in frame.columns:
        frame[target.name] = frame[target.name].map(
            lambda label: label if pd.isna(label) else str(label)
        )
    return Dataset(frame=frame, schema=schema, source=source, content_sha256=file_sha256(path))


def dataset_hash(frame: pd.DataFrame) -> str:
    """A content hash of the table (column names, dtypes and every value, in order)."""
    digest = hashlib.sha256()
    for name, dtype in frame.dtypes.items():
        digest.update(f"{name}:{dtype};".encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def load_spec_dataset(
    spec: TrainingSpec, data_rev: str | None = None, data_repo: str | None = None
) -> Dataset:
    """The dataset a training spec declares, checked against the spec's schema later.

    A DVC-tracked file is read at Git revision ``data_rev`` of ``data_repo`` (defaults: the
    working tree of this repository)."""
    source = spec.dataset
    if source.uri is not None:
        return load_file_dataset(source.uri, spec.dataset_schema)
    if source.dvc is not None:
        return load_dvc_dataset(spec, data_rev, data_repo)
    return load_bundled_dataset(
        source.sklearn, spec.dataset_schema, source.options, source.label_names
    )


def load_dvc_dataset(spec: TrainingSpec, rev: str | None, repo: str | None) -> Dataset:
    """Read the spec's DVC-tracked file; where DVC has no copy of a version exported from a
    bundled dataset, the export is regenerated and used if its md5 is the recorded one."""
    path = spec.dataset.dvc
    try:
        data, version = read_versioned(path, repo, rev)
    except ConfigurationError as missing:
        restored = _restored_export(spec, repo, rev, missing)
        if restored is None:
            raise
        data, version = restored
    with tempfile.TemporaryDirectory() as scratch:
        local = Path(scratch) / Path(path).name
        local.write_bytes(data)
        dataset = _read(local, spec.dataset_schema, f"dvc://{version.repo}/{path}@{version.md5}")
    return replace(dataset, data_version=version)


def _restored_export(
    spec: TrainingSpec, repo: str | None, rev: str | None, missing: ConfigurationError
) -> tuple[bytes, DataVersion] | None:
    from model.versioned_data import committed_version

    if spec.dataset.sklearn is None:
        return None
    try:
        version = committed_version(spec.dataset.dvc, repo, rev)
    except ConfigurationError:
        return None
    data = exported_csv(spec)
    if hashlib.md5(data, usedforsecurity=False).hexdigest() != version.md5:
        return None
    return data, version


def exported_csv(spec: TrainingSpec) -> bytes:
    """The first version of the spec's DVC-tracked dataset: its bundled scikit-learn copy as CSV,
    columns named and ordered as its schema declares. The bytes are stable (same columns, `\n`
    line ends, pandas' shortest float repr), so a checkout without the DVC cache or remote can
    still train on the committed version: they are used only when their md5 equals the `.dvc`
    file's."""
    source = spec.dataset
    dataset = load_bundled_dataset(
        source.sklearn, spec.dataset_schema, source.options, source.label_names
    )
    return dataset.frame.to_csv(index=False, lineterminator="\n").encode()

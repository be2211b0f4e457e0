"""Batch scoring: a CSV file scored by exactly the registered version (and digest) a predictor
serves, validated and predicted by the model server's own code, streamed in chunks.

The model is resolved, downloaded, digest-checked and trust-checked by `serving.model_source`
and predicted by `serving.model_kinds`, and every chunk is validated by
`serving.request_payload.RequestParser` as one request of `chunk_rows` rows: one implementation
of each, so a file scores as the server would answer its rows. Nothing is held beyond a chunk.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.conventions import TAG_MODEL_DIGEST
from model.errors import ConfigurationError, DataValidationError

REFERENCE = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)(?:/(?P<version>[1-9][0-9]*)|@(?P<alias>[\w-]+))$"
)
"""The stack's model references (infra/deployments/config.py, ModelReference)."""
DEFAULT_CHUNK_ROWS = 10_000
# Rows are validated and put in the signature's order, as in serving/model_server.py.
warnings.filterwarnings(
    "ignore", message="X does not have valid feature names", category=UserWarning
)
ROW_INDEX = re.compile(r"data\.ndarray\[(\d+)\]")


@dataclass(frozen=True)
class ScoringModel:
    """The version a reference resolved to, its verified digest, and what predicts."""

    name: str
    version: str
    digest: str
    feature_names: tuple[str, ...]
    runtime: Any


def resolve_scoring_model(reference: str, tracking_uri: str, digest: str | None) -> ScoringModel:
    """Resolve `<name>@<alias>` or `<name>/<version>` once, then load that version exactly as
    the server does, checking its files against `digest` (else the version's registered
    `model_digest` tag, the one the stack deploys with)."""
    from mlflow import MlflowClient

    from serving import model_kinds
    from serving.model_digest import DigestMismatch
    from serving.model_source import ModelSourceError, resolve_model

    match = REFERENCE.match(reference)
    if not match:
        raise ConfigurationError(
            f"--model {reference!r}: expected <name>@<alias> (iris@champion) or <name>/<version>"
        )
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    name = match["name"]
    if match["alias"]:
        found = client.get_model_version_by_alias(name, match["alias"])
    else:
        found = client.get_model_version(name, match["version"])
    registered = (found.tags or {}).get(TAG_MODEL_DIGEST)
    if digest is None:
        digest = registered
    if digest is None:
        raise ConfigurationError(
            f"{name} version {found.version} has no {TAG_MODEL_DIGEST} tag and no --digest was "
            "given: its files cannot be checked, so it is not scored"
        )
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri  # the download child reads it
    try:
        artifact = resolve_model(f"models:/{name}/{found.version}", digest)
        runtime = model_kinds.load(artifact)
    except (ModelSourceError, DigestMismatch) as error:
        raise ConfigurationError(str(error)) from None
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
    return ScoringModel(name, str(found.version), digest, artifact.feature_names, runtime)


def _cell(text: str) -> Any:
    """A CSV cell as the number it spells, else the text (which the parser then names)."""
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            continue
    return text


@dataclass(frozen=True)
class ScoringResult:
    rows: int
    chunks: int
    output: str


def score_file(
    model: ScoringModel,
    source: Path,
    destination: Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress=sys.stderr,
) -> ScoringResult:
    """Score `source` (CSV with a header naming the model's features, any order) into
    `destination` (Parquet): `row` (0-based data row), the features, one column per output
    (`output:<name>`), and the model's name, version and digest. Written to a temporary file
    beside it and renamed at the end, so a refused file leaves no partial output."""
    import pandas as pd
    import pyarrow.parquet as pq

    from serving.http_errors import InvalidRequest
    from serving.request_payload import RequestParser

    if destination.suffix != ".parquet":
        raise ConfigurationError(f"--output {destination}: expected a .parquet file")
    if not source.is_file():
        raise ConfigurationError(f"--input {source}: no such file")
    parser = RequestParser(model.feature_names, chunk_rows)
    reader = pd.read_csv(source, dtype=str, keep_default_na=False, chunksize=chunk_rows)
    handle, scratch = tempfile.mkstemp(suffix=".parquet", dir=destination.parent or ".")
    os.close(handle)
    writer = None
    rows = chunks = 0
    try:
        for chunk in reader:
            values = [[_cell(cell) for cell in row] for row in chunk.itertuples(index=False)]
            body = {"data": {"names": list(chunk.columns), "ndarray": values}}
            try:
                parsed = parser.parse(body)
            except InvalidRequest as error:
                raise DataValidationError(
                    str(source), [_located(error.message, rows)]
                ) from None
            prediction = model.runtime.predict(parsed.features)
            table = _table(model, parsed.features, prediction, rows)
            if writer is None:
                writer = pq.ParquetWriter(scratch, table.schema)
            writer.write_table(table)
            rows += len(values)
            chunks += 1
            print(f"scored {rows} rows ({chunks} chunks of at most {chunk_rows})", file=progress)
        if writer is None:
            raise DataValidationError(str(source), ["no data rows below the header"])
        writer.close()
        writer = None
        os.replace(scratch, destination)
    finally:
        if writer is not None:
            writer.close()
        if os.path.exists(scratch):
            os.unlink(scratch)
    return ScoringResult(rows=rows, chunks=chunks, output=str(destination))


def _located(message: str, first_row: int) -> str:
    """The parser's message with the file's line of the offending row (header is line 1)."""
    found = ROW_INDEX.search(message)
    if found is None:
        return f"rows from line {first_row + 2}: {message}"
    return f"line {first_row + int(found[1]) + 2}: {message}"


def _table(model: ScoringModel, features, prediction, first_row: int):
    import numpy as np
    import pyarrow as pa

    count = len(features)
    columns = {"row": pa.array(np.arange(first_row, first_row + count), pa.int64())}
    for index, name in enumerate(model.feature_names):
        columns[name] = pa.array(features[:, index], pa.float64())
    values = prediction.values
    for index, name in enumerate(prediction.names):
        column = values[:, index]
        kind = pa.float64() if column.dtype.kind == "f" else pa.string()
        columns[f"output:{name}"] = pa.array(
            column if kind == pa.float64() else column.astype(str), kind
        )
    for key, value in (
        ("model_name", model.name),
        ("model_version", model.version),
        ("model_digest", model.digest),
    ):
        columns[key] = pa.array([value] * count, pa.string())
    return pa.table(columns)

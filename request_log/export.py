"""Joined payloads as training data: one row per predicted row, with the model version that
answered it and, when feedback came back with a `truth`, its label. Written as Parquet, one
immutable version per export, plus `labelled.parquet`, the current version of the labelled rows
that continuous training declares as its dataset (docs/serving.md)."""

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


@dataclass
class ExportCounts:
    """What one export wrote; `skipped` rows had columns other than the deployment's."""

    rows: int = 0
    labelled: int = 0
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)


def _rows(data: dict[str, Any]) -> tuple[list[str] | None, list[list[Any]]]:
    """(names, rows) of a Seldon `data` object in ndarray or tensor form."""
    names = data.get("names") or None
    if "ndarray" in data:
        return names, [row if isinstance(row, list) else [row] for row in data["ndarray"]]
    tensor = data.get("tensor") or {}
    shape, values = tensor.get("shape", [0, 0]), tensor.get("values", [])
    width = shape[1] if len(shape) > 1 else 1
    return names, [values[i : i + width] for i in range(0, len(values), width)]


def _label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def table_rows(
    joined, feature_names: list[str] | None, counts: ExportCounts
) -> tuple[list[str], list[dict[str, Any]]]:
    """(feature columns, rows) of the joined payloads. Requests without `data.names` take
    `feature_names` (the deployment's, in the model's order), else `x0`, `x1`, ..."""
    columns = list(feature_names) if feature_names else None
    rows = []
    for request_id, predictor, request, response, feedback, logged_at in joined:
        names, features = _rows(request.get("data") or {})
        _, answers = _rows(response.get("data") or {})
        if columns is None:
            columns = names or [f"x{i}" for i in range(len(features[0]) if features else 0)]
        order = names or columns
        if sorted(order) != sorted(columns) or len(answers) != len(features):
            counts.skipped += len(features)
            counts.reasons.append(f"{request_id}: columns {order} or answer rows differ")
            continue
        truth_rows, reward = [], None
        if feedback is not None:
            _, truth_rows = _rows((feedback.get("truth") or {}).get("data") or {})
            reward = feedback.get("reward")
        tags = (response.get("meta") or {}).get("tags") or {}
        for index, (values, answer) in enumerate(zip(features, answers, strict=True)):
            by_name = dict(zip(order, values, strict=True))
            truth = truth_rows[index] if index < len(truth_rows) else None
            rows.append(
                {
                    "request_id": request_id,
                    "row": index,
                    "predictor": predictor,
                    "model_version": str(tags.get("model_version", "")),
                    "logged_at": datetime.fromtimestamp(logged_at, UTC),
                    **{name: float(by_name[name]) for name in columns},
                    "prediction": json.dumps(answer),
                    "reward": float(reward) if isinstance(reward, int | float) else None,
                    "label": _label(truth[0] if len(truth) == 1 else truth)
                    if truth is not None
                    else None,
                }
            )
    return columns or [], rows


def _schema(columns: list[str], label_column: str) -> pa.Schema:
    return pa.schema(
        [
            ("request_id", pa.string()),
            ("row", pa.int64()),
            ("predictor", pa.string()),
            ("model_version", pa.string()),
            ("logged_at", pa.timestamp("us", tz="UTC")),
            *[(name, pa.float64()) for name in columns],
            ("prediction", pa.string()),
            ("reward", pa.float64()),
            (label_column, pa.string()),
        ]
    )


def write_version(
    joined,
    directory: Path,
    *,
    feature_names: list[str] | None,
    label_column: str,
) -> ExportCounts:
    """Write `logged.parquet` (every joined row) and `labelled.parquet` (the feature columns
    and `label_column` of the rows feedback labelled) into `directory`."""
    counts = ExportCounts()
    columns, rows = table_rows(joined, feature_names, counts)
    for row in rows:
        row[label_column] = row.pop("label")
    schema = _schema(columns, label_column)
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), directory / "logged.parquet")
    labelled = [
        {name: row[name] for name in (*columns, label_column)}
        for row in rows
        if row[label_column] is not None and all(math.isfinite(row[c]) for c in columns)
    ]
    labelled_schema = pa.schema([schema.field(name) for name in (*columns, label_column)])
    pq.write_table(
        pa.Table.from_pylist(labelled, schema=labelled_schema), directory / "labelled.parquet"
    )
    counts.rows, counts.labelled = len(rows), len(labelled)
    return counts

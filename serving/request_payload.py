"""Turns a Seldon JSON request into a validated float matrix, or a 400 that says what is wrong.

Checks run in pure Python on the decoded JSON, so every bad value is reported with its exact
position before numpy or scikit-learn could turn it into a 500.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from serving.http_errors import InvalidRequest

PAYLOAD_KINDS = ("ndarray", "tensor")
UNSUPPORTED_BODY_KINDS = ("jsonData", "strData", "binData")


@dataclass(frozen=True)
class ParsedRequest:
    """The feature matrix in the model's column order, and the payload kind to answer with."""

    features: np.ndarray
    kind: str


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {str: "string", list: "list", dict: "object"}.get(type(value), type(value).__name__)


class RequestParser:
    """Validates requests against one model's input columns and the batch limit."""

    def __init__(self, feature_names: tuple[str, ...], max_rows: int) -> None:
        self.feature_names = feature_names
        self.max_rows = max_rows
        self._width = len(feature_names)
        self._expected_row = f"{self._width} numbers ({', '.join(feature_names)})"
        self._example = (
            '{"data": {"names": [...], "ndarray": [['
            + ", ".join(["<number>"] * self._width)
            + "]]}}"
        )

    def parse(self, body: Any) -> ParsedRequest:
        """Return the request's features, or raise InvalidRequest naming the problem."""
        if not isinstance(body, dict):
            raise InvalidRequest(
                f"request body must be a JSON object, got {type_name(body)}; "
                f"expected {self._example}"
            )
        meta = body.get("meta")
        if meta is not None and not isinstance(meta, dict):
            raise InvalidRequest(f"'meta' must be an object, got {type_name(meta)}")
        data = body.get("data")
        if data is None:
            self._reject_missing_data(body)
        if not isinstance(data, dict):
            raise InvalidRequest(
                f"'data' must be an object, got {type_name(data)}; expected {self._example}"
            )
        kinds = [kind for kind in data if kind != "names"]
        if len(kinds) != 1 or kinds[0] not in PAYLOAD_KINDS:
            raise InvalidRequest(
                f"'data' holds {sorted(kinds) or 'no payload'}; expected exactly one of "
                f"{' or '.join(repr(k) for k in PAYLOAD_KINDS)} (plus optional 'names')"
            )
        kind = kinds[0]
        names = data.get("names")
        columns = self.feature_names if names in (None, []) else self._checked_names(names)
        rows = self._tensor_rows(data["tensor"]) if kind == "tensor" else data["ndarray"]
        features = self._matrix(rows, kind, columns)
        if columns != self.feature_names:
            features = features[:, [columns.index(name) for name in self.feature_names]]
        return ParsedRequest(features=features, kind=kind)

    def _reject_missing_data(self, body: dict[str, Any]) -> None:
        other_kinds = [k for k in UNSUPPORTED_BODY_KINDS if k in body]
        if other_kinds:
            raise InvalidRequest(
                f"unsupported payload kind {other_kinds[0]!r}: this model takes numeric "
                f"features in 'data' as 'ndarray' or 'tensor', e.g. {self._example}"
            )
        raise InvalidRequest(f"missing 'data': expected {self._example}")

    def _tensor_rows(self, tensor: Any) -> list[Any]:
        if not isinstance(tensor, dict) or "shape" not in tensor or "values" not in tensor:
            raise InvalidRequest(
                "'data.tensor' must be an object with 'shape' [rows, "
                f"{self._width}] and a flat list 'values'"
            )
        shape, values = tensor["shape"], tensor["values"]
        if (
            not isinstance(shape, list)
            or len(shape) != 2
            or not all(type(n) is int and n >= 0 for n in shape)
        ):
            raise InvalidRequest(
                f"'data.tensor.shape' is {shape!r}; expected [rows, {self._width}]"
            )
        if shape[1] != self._width:
            raise InvalidRequest(
                f"'data.tensor.shape' is {shape}: rows have {shape[1]} values; "
                f"expected {self._expected_row}"
            )
        if not isinstance(values, list) or len(values) != shape[0] * shape[1]:
            count = len(values) if isinstance(values, list) else type_name(values)
            raise InvalidRequest(
                f"'data.tensor.values' must be a flat list of shape[0]*shape[1] = "
                f"{shape[0] * shape[1]} numbers, got {count}"
            )
        return [values[i : i + self._width] for i in range(0, len(values), self._width)]

    def _matrix(self, rows: Any, kind: str, columns: tuple[str, ...]) -> np.ndarray:
        where = "data.ndarray" if kind == "ndarray" else "data.tensor.values"
        if not isinstance(rows, list):
            raise InvalidRequest(
                f"'{where}' must be a list of rows, got {type_name(rows)}; expected {self._example}"
            )
        if not rows:
            raise InvalidRequest(
                f"empty batch: '{where}' has no rows; expected at least one row of "
                f"{self._expected_row}"
            )
        if len(rows) > self.max_rows:
            raise InvalidRequest(
                f"batch of {len(rows)} rows exceeds the limit of {self.max_rows} rows per "
                "request (MAX_BATCH_ROWS); split it into smaller requests"
            )
        for i, row in enumerate(rows):
            if type(row) is not list:
                raise InvalidRequest(
                    f"'{where}[{i}]' is a {type_name(row)}; expected a row (list) of "
                    f"{self._expected_row}"
                )
            if len(row) != self._width:
                raise InvalidRequest(
                    f"'{where}[{i}]' has {len(row)} values; expected {self._expected_row}"
                )
            for j, value in enumerate(row):
                if type(value) is float:
                    if not math.isfinite(value):
                        raise InvalidRequest(
                            f"'{where}[{i}][{j}]' ({columns[j]}) is {value}; "
                            "expected a finite number"
                        )
                elif type(value) is not int or not -1e308 < value < 1e308:
                    raise InvalidRequest(
                        f"'{where}[{i}][{j}]' ({columns[j]}) is "
                        f"{type_name(value)} {_shorten(value)}; expected a finite number"
                    )
        return np.array(rows, dtype=np.float64)

    def _checked_names(self, names: Any) -> tuple[str, ...]:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InvalidRequest(
                f"'data.names' must be a list of strings, expected {list(self.feature_names)}"
            )
        unknown = [n for n in names if n not in self.feature_names]
        missing = [n for n in self.feature_names if n not in names]
        if unknown or missing or len(names) != self._width:
            problems = []
            if unknown:
                problems.append(f"unknown {unknown}")
            if missing:
                problems.append(f"missing {missing}")
            if not problems:
                problems.append("duplicates")
            raise InvalidRequest(
                f"'data.names' {names} do not match the model's features: "
                f"{', '.join(problems)}; expected {list(self.feature_names)} (any order)"
            )
        return tuple(names)


def _shorten(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

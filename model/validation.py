"""The data validation gate: every check runs, and any violation stops the run before training."""

from __future__ import annotations

import pandas as pd

from model.data import Dataset
from model.errors import DataValidationError
from model.schema import DatasetSchema, FeatureSpec, TargetSpec

_SHOWN_ROWS = 5


def validate(dataset: Dataset) -> None:
    """Raise DataValidationError naming every violation; return quietly when the data is fit."""
    violations = find_violations(dataset.frame, dataset.schema)
    if violations:
        raise DataValidationError(dataset.source, violations)


def find_violations(frame: pd.DataFrame, schema: DatasetSchema) -> list[str]:
    """All schema, type, range, missing-value, duplicate and class-balance problems, in order."""
    violations = _column_violations(frame, schema)
    present = [feature for feature in schema.features if feature.name in frame.columns]
    for feature in present:
        violations += _feature_violations(frame[feature.name], feature)
    if schema.target.name in frame.columns:
        violations += _target_violations(frame[schema.target.name], schema)
    violations += _table_violations(frame, schema)
    return violations


def _column_violations(frame: pd.DataFrame, schema: DatasetSchema) -> list[str]:
    expected = [*schema.feature_names, schema.target.name]
    missing = [name for name in expected if name not in frame.columns]
    unexpected = [str(name) for name in frame.columns if name not in expected]
    violations = []
    if missing:
        violations.append(f"missing columns {missing}; the schema declares {expected}")
    if unexpected:
        violations.append(f"undeclared columns {unexpected}; the schema declares {expected}")
    return violations


def _feature_violations(column: pd.Series, feature: FeatureSpec) -> list[str]:
    name = feature.name
    values = pd.to_numeric(column, errors="coerce")
    not_numeric = column.notna() & values.isna()
    if not_numeric.any():
        return [
            f"column {name!r}: {int(not_numeric.sum())} non-numeric value(s) at rows "
            f"{_rows(not_numeric)}, e.g. {column[not_numeric].iloc[0]!r}; expected {feature.type}"
        ]
    violations = []
    if feature.type == "int":
        fractional = values.notna() & (values % 1 != 0)
        if fractional.any():
            violations.append(
                f"column {name!r}: {int(fractional.sum())} non-integer value(s) at rows "
                f"{_rows(fractional)}; expected int"
            )
    infinite = values.isin([float("inf"), float("-inf")])
    outside = values.notna() & ~infinite & ((values < feature.min) | (values > feature.max))
    out_of_range = outside | infinite
    if out_of_range.any():
        violations.append(
            f"column {name!r}: {int(out_of_range.sum())} value(s) outside "
            f"[{feature.min}, {feature.max}] at rows {_rows(out_of_range)}, "
            f"observed min {values[~infinite].min()} max {values[~infinite].max()}"
        )
    return violations


def _target_violations(column: pd.Series, schema: DatasetSchema) -> list[str]:
    target = schema.target
    if target.classes is None:
        return _regression_target_violations(column, target)
    labels = column.dropna()
    if target.type == "int":
        numbers = pd.to_numeric(labels, errors="coerce")
        not_int = numbers.isna() | (numbers % 1 != 0)
        if not_int.any():
            return [
                f"column {target.name!r}: {int(not_int.sum())} non-integer label(s) "
                f"{sorted(labels[not_int].astype(str).unique().tolist())[:_SHOWN_ROWS]}; "
                f"expected int class labels {target.classes}"
            ]
        labels = numbers.astype("int64")
    names = labels.astype(str)
    unknown = ~names.isin(target.classes)
    violations = []
    if unknown.any():
        violations.append(
            f"column {target.name!r}: {int(unknown.sum())} unknown label(s) "
            f"{sorted(names[unknown].unique().tolist())[:_SHOWN_ROWS]}; expected one of "
            f"{target.classes}"
        )
    counts = names[~unknown].value_counts().reindex(target.classes, fill_value=0)
    absent = counts.index[counts == 0].tolist()
    if absent:
        violations.append(f"column {target.name!r}: declared classes {absent} have no rows")
    elif counts.max() / counts.min() > schema.quality.max_class_imbalance:
        violations.append(
            f"class imbalance {counts.max() / counts.min():.2f} (largest/smallest class, counts "
            f"{counts.to_dict()}) exceeds the limit {schema.quality.max_class_imbalance}"
        )
    return violations


def _regression_target_violations(column: pd.Series, target: TargetSpec) -> list[str]:
    """A regression label is numeric, finite and inside the declared range (if any)."""
    bounds = FeatureSpec(
        name=target.name,
        min=float("-inf") if target.min is None else target.min,
        max=float("inf") if target.max is None else target.max,
    )
    return _feature_violations(column, bounds)


def _table_violations(frame: pd.DataFrame, schema: DatasetSchema) -> list[str]:
    quality = schema.quality
    rows = len(frame)
    violations = []
    if rows < quality.min_rows:
        violations.append(f"{rows} row(s); at least {quality.min_rows} are required")
    if rows == 0:
        return violations
    for name, missing in frame.isna().sum().items():
        if missing / rows > quality.max_missing_fraction:
            violations.append(
                f"column {name!r}: {int(missing)} missing value(s) at rows "
                f"{_rows(frame[name].isna())} ({missing / rows:.1%}); at most "
                f"{quality.max_missing_fraction:.1%} allowed"
            )
    duplicated = frame.duplicated()
    if duplicated.sum() / rows > quality.max_duplicate_fraction:
        violations.append(
            f"{int(duplicated.sum())} duplicate row(s) at rows {_rows(duplicated)} "
            f"({duplicated.sum() / rows:.1%}); at most {quality.max_duplicate_fraction:.1%} allowed"
        )
    return violations


def _rows(mask: pd.Series) -> str:
    """The first few 0-based row numbers where ``mask`` is true, with a count of the rest."""
    positions = [int(i) for i in mask.to_numpy().nonzero()[0]]
    shown = ", ".join(str(i) for i in positions[:_SHOWN_ROWS])
    more = len(positions) - _SHOWN_ROWS
    return f"[{shown}{f', ... {more} more' if more > 0 else ''}]"

"""Declared dataset schema: feature names, types and ranges, the target, and data-quality limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from model.errors import ConfigurationError, describe_validation_error
from model.estimators import ModelKind


class FeatureSpec(BaseModel):
    """One numeric input column and the closed range its values must fall in."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    type: Literal["float", "int"] = "float"
    min: float
    max: float

    @model_validator(mode="after")
    def _range_is_ordered(self) -> FeatureSpec:
        if self.min > self.max:
            raise ValueError(
                f"feature {self.name!r}: min {self.min} is greater than max {self.max}"
            )
        return self


class TargetSpec(BaseModel):
    """The label column: class names for a classifier, or a numeric range for a regressor.

    ``type`` is how labels are stored: ``string`` or ``int`` class labels (a classifier), or
    ``float`` values (a regressor, with ``classes`` absent and an optional ``min``/``max``).
    Class names are compared as strings, so ``classes: [0, 1]`` matches integer labels 0 and 1.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    type: Literal["string", "int", "float"] = "string"
    classes: list[str] | None = Field(default=None, min_length=2)
    min: float | None = None
    max: float | None = None

    @field_validator("classes", mode="before")
    @classmethod
    def _labels_are_strings(cls, classes: object) -> object:
        """Class names are strings by contract: ``[0, 1]`` in a schema file means ``["0", "1"]``."""
        if isinstance(classes, list):
            return [str(label) if isinstance(label, int | float) else label for label in classes]
        return classes

    @model_validator(mode="after")
    def _kind_is_consistent(self) -> TargetSpec:
        if self.type == "float":
            if self.classes is not None:
                raise ValueError(
                    f"target {self.name!r}: a float target is a regression label and takes no "
                    "classes; use type string or int for class labels"
                )
        elif self.classes is None:
            raise ValueError(
                f"target {self.name!r}: {self.type} class labels need `classes`, or use type "
                "float for a regression target"
            )
        elif self.min is not None or self.max is not None:
            raise ValueError(f"target {self.name!r}: min/max apply to a float target only")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"target {self.name!r}: min {self.min} is greater than max {self.max}")
        return self

    @property
    def kind(self) -> ModelKind:
        return "regressor" if self.classes is None else "classifier"


class QualityLimits(BaseModel):
    """Tolerances of the validation gate (fractions are of all rows)."""

    model_config = ConfigDict(extra="forbid")

    max_missing_fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    max_duplicate_fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    max_class_imbalance: float = Field(
        default=3.0, ge=1.0, description="largest class count divided by the smallest"
    )
    min_rows: int = Field(default=10, ge=2)


class DatasetSchema(BaseModel):
    """Everything the validation gate checks a dataset against."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    features: list[FeatureSpec] = Field(min_length=1)
    target: TargetSpec
    quality: QualityLimits = QualityLimits()

    @model_validator(mode="after")
    def _names_are_unique(self) -> DatasetSchema:
        names = [feature.name for feature in self.features] + [self.target.name]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"column names must be unique, repeated: {repeated}")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [feature.name for feature in self.features]


def load_schema(path: Path) -> DatasetSchema:
    """Read a schema from a YAML or JSON file, naming the file and field on any error."""
    try:
        raw = (
            yaml.safe_load(path.read_text())
            if path.suffix in {".yaml", ".yml"}
            else json.loads(path.read_text())
        )
    except FileNotFoundError as exc:
        raise ConfigurationError(f"schema file {path} does not exist") from exc
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"schema file {path} is not valid YAML/JSON: {exc}") from exc
    try:
        return DatasetSchema.model_validate(raw)
    except ValidationError as exc:
        raise ConfigurationError(
            f"schema file {path} is invalid:\n{describe_validation_error(exc)}"
        ) from exc

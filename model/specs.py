"""Training specs: one declarative YAML file per use case in ``model/specs/``.

A spec names the registered model, where its data comes from, the dataset schema (label and
validation limits), the estimator and its hyper-parameters, the gate settings and the drift
reference. Adding a model is adding a file; command-line options override a spec's defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from model.errors import ConfigurationError, describe_validation_error
from model.estimators import ESTIMATORS, estimator_kind
from model.schema import DatasetSchema

SPECS_DIR = Path(__file__).resolve().parent / "specs"


class DatasetSource(BaseModel):
    """Where the training data comes from when ``--data`` is not given."""

    model_config = ConfigDict(extra="forbid")

    sklearn: str | None = Field(default=None, description="a bundled loader, e.g. load_wine")
    options: dict[str, Any] = Field(default_factory=dict, description="loader keyword arguments")
    label_names: bool = Field(default=False, description="map target codes to target_names")
    uri: str | None = Field(default=None, description="a CSV/Parquet path or URI")
    dvc: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_./-]*\.(csv|parquet)$",
        description="a CSV/Parquet file tracked by DVC (`<path>.dvc`), relative to the "
        "repository root; with `sklearn`, the bundled loader its first version was exported "
        "from (`exported_csv` in model/data.py)",
    )

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSource:
        if (self.uri is not None) == (self.sklearn is not None or self.dvc is not None):
            raise ValueError(
                "give exactly one of `dvc` (a DVC-tracked file), `sklearn` (a bundled loader) "
                "or `uri`"
            )
        return self


class EstimatorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class GateSpec(BaseModel):
    """Defaults of the quality gate for this use case (see ``model.gate.GateThresholds``)."""

    model_config = ConfigDict(extra="forbid")

    primary_metric: str | None = None
    min_absolute_improvement: float | None = None
    min_relative_improvement: float | None = None
    guarded_metrics: list[str] | None = None


class DriftSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bins: int = Field(default=10, ge=1, le=100)


class TrainingSpec(BaseModel):
    """Everything ``train`` needs for one registered model."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    description: str = ""
    dataset: DatasetSource
    dataset_schema: DatasetSchema = Field(alias="schema")
    estimator: EstimatorSpec
    gate: GateSpec = GateSpec()
    drift: DriftSpec = DriftSpec()
    seed: int = 42
    test_size: float = Field(default=0.25, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _estimator_fits_the_kind(self) -> TrainingSpec:
        name, kind = self.estimator.name, self.dataset_schema.target.kind
        if name not in ESTIMATORS:
            raise ValueError(f"unknown estimator {name!r}; choose one of {sorted(ESTIMATORS)}")
        if estimator_kind(name) != kind:
            raise ValueError(f"estimator {name!r} does not fit a {kind} target")
        return self


def spec_names() -> list[str]:
    return sorted(path.stem for path in SPECS_DIR.glob("*.yaml"))


def load_spec(name: str) -> TrainingSpec | None:
    """The spec of registered model ``name``, or None when there is no ``specs/<name>.yaml``."""
    path = SPECS_DIR / f"{name}.yaml"
    return load_spec_file(path) if path.is_file() else None


def load_spec_file(path: Path) -> TrainingSpec:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"training spec {path} is not valid YAML: {exc}") from exc
    try:
        spec = TrainingSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigurationError(
            f"training spec {path} is invalid:\n{describe_validation_error(exc)}"
        ) from exc
    if spec.name != path.stem:
        raise ConfigurationError(
            f"training spec {path} names {spec.name!r}; expected {path.stem!r}"
        )
    return spec

"""Training: a seeded scikit-learn Pipeline with a configurable estimator and hyper-parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from model.errors import ConfigurationError, describe_validation_error
from model.estimators import (
    ESTIMATORS,
    ModelKind,
    estimator_class,
    estimator_kind,
    estimator_names,
)


class TrainingConfig(BaseModel):
    """Which estimator to fit, its hyper-parameters, the seed and the held-out fraction."""

    model_config = ConfigDict(extra="forbid")

    kind: ModelKind = "classifier"
    estimator: str = "logistic_regression"
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = 42
    test_size: float = Field(default=0.25, gt=0.0, lt=1.0)

    @field_validator("estimator")
    @classmethod
    def _estimator_is_known(cls, name: str) -> str:
        if name not in ESTIMATORS:
            raise ValueError(f"unknown estimator {name!r}; choose one of {sorted(ESTIMATORS)}")
        return name

    @model_validator(mode="after")
    def _estimator_fits(self) -> TrainingConfig:
        if estimator_kind(self.estimator) != self.kind:
            raise ValueError(
                f"{self.estimator} is not a {self.kind} estimator; for this target choose one "
                f"of {estimator_names(self.kind)}"
            )
        valid = estimator_class(self.estimator)().get_params()
        unknown = sorted(set(self.params) - set(valid))
        if unknown:
            raise ValueError(
                f"unknown hyper-parameter(s) {unknown} for {self.estimator}; valid: {sorted(valid)}"
            )
        return self

    @classmethod
    def parse(cls, **values: Any) -> TrainingConfig:
        """Build a config, turning pydantic errors into a ConfigurationError naming each field."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigurationError(
                f"invalid training configuration:\n{describe_validation_error(exc)}"
            ) from exc

    def estimator_params(self) -> dict[str, Any]:
        """Hyper-parameters as fitted: the seed (where the estimator takes one) and the user's."""
        defaults = estimator_class(self.estimator)().get_params()
        seeded = {"random_state": self.seed} if "random_state" in defaults else {}
        return {**seeded, **self.params}


@dataclass(frozen=True)
class Split:
    """Training rows and the held-out rows every evaluation and gate decision uses."""

    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def split(features: pd.DataFrame, target: pd.Series, config: TrainingConfig) -> Split:
    """A seeded train/held-out split, stratified by class for a classifier."""
    stratify = target if config.kind == "classifier" else None
    try:
        x_train, x_test, y_train, y_test = train_test_split(
            features,
            target,
            test_size=config.test_size,
            random_state=config.seed,
            stratify=stratify,
        )
    except ValueError as exc:
        raise ConfigurationError(
            f"cannot hold out {config.test_size} of {len(target)} rows with every class on both "
            f"sides: {exc}"
        ) from exc
    return Split(x_train, x_test, y_train, y_test)


def fit(config: TrainingConfig, x_train: pd.DataFrame, y_train: pd.Series) -> Pipeline:
    """Fit scaling plus the configured estimator; the same inputs give the same model."""
    estimator = estimator_class(config.estimator)(**config.estimator_params())
    pipeline = Pipeline([("scale", StandardScaler()), ("estimator", estimator)])
    try:
        return pipeline.fit(x_train, y_train)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"{config.estimator} rejected hyper-parameters {config.params}: {exc}"
        ) from exc

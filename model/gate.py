"""The quality gate: may a challenger replace the champion, judged on the same held-out rows?"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from common.checks import GateCheck
from model.errors import ConfigurationError, describe_validation_error

# Metrics are ratios of counts: differences this small are float rounding, not a real change.
_ROUNDING = 1e-9
LOWER_IS_BETTER = frozenset({"rmse", "mae"})
"""Error metrics: an improvement is a decrease. Every other metric improves upwards."""


class GateThresholds(BaseModel):
    """How much better the challenger must be, and which metrics may never get worse."""

    model_config = ConfigDict(extra="forbid")

    primary_metric: str = "f1_macro"
    min_absolute_improvement: float = Field(default=0.0, ge=-1.0, le=1.0)
    min_relative_improvement: float = Field(default=0.0, ge=-1.0)
    guarded_metrics: list[str] = Field(default_factory=lambda: ["accuracy", "f1_macro"])

    @model_validator(mode="after")
    def _metrics_named(self) -> GateThresholds:
        if not self.primary_metric or any(not name for name in self.guarded_metrics):
            raise ValueError("metric names must be non-empty")
        return self

    @classmethod
    def parse(cls, **values: Any) -> GateThresholds:
        """Build thresholds, turning pydantic errors into a ConfigurationError naming each field."""
        try:
            return cls.model_validate(
                {key: value for key, value in values.items() if value is not None}
            )
        except ValidationError as exc:
            raise ConfigurationError(
                f"invalid gate thresholds:\n{describe_validation_error(exc)}"
            ) from exc


@dataclass(frozen=True)
class GateVerdict:
    """The gate's decision with the evidence it was based on."""

    passed: bool
    challenger_version: str
    champion_version: str | None
    thresholds: dict[str, Any]
    challenger_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    checks: list[GateCheck] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The verdict with only the metrics the gate looked at (small enough for a run tag)."""
        used = {self.thresholds["primary_metric"], *self.thresholds["guarded_metrics"]}

        def only_used(metrics: dict[str, float] | None) -> dict[str, float] | None:
            return None if metrics is None else {k: v for k, v in metrics.items() if k in used}

        return {
            **self.as_dict(),
            "challenger_metrics": only_used(self.challenger_metrics),
            "champion_metrics": only_used(self.champion_metrics),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateVerdict:
        return cls(**{**data, "checks": [GateCheck(**check) for check in data["checks"]]})


def decide(
    thresholds: GateThresholds,
    challenger_version: str,
    challenger: dict[str, float],
    champion_version: str | None,
    champion: dict[str, float] | None,
) -> GateVerdict:
    """Compare metrics measured on the same held-out rows; with no champion the gate passes."""
    required = {thresholds.primary_metric, *thresholds.guarded_metrics}
    missing = sorted((required - set(challenger)) | (required - set(champion or challenger)))
    if missing:
        raise ConfigurationError(
            f"gate metrics {missing} were not measured; available: {sorted(challenger)}"
        )
    checks = (
        [GateCheck("champion", True, "no champion yet: the first model passes")]
        if champion is None
        else _compare(thresholds, challenger, champion)
    )
    return GateVerdict(
        passed=all(check.passed for check in checks),
        challenger_version=challenger_version,
        champion_version=champion_version,
        thresholds=thresholds.model_dump(),
        challenger_metrics=challenger,
        champion_metrics=champion,
        checks=checks,
    )


def _gain(metric: str, challenger: dict[str, float], champion: dict[str, float]) -> float:
    """How much better the challenger is on ``metric`` (positive is better, either direction)."""
    difference = challenger[metric] - champion[metric]
    return -difference if metric in LOWER_IS_BETTER else difference


def _compare(
    thresholds: GateThresholds, challenger: dict[str, float], champion: dict[str, float]
) -> list[GateCheck]:
    metric = thresholds.primary_metric
    gain = _gain(metric, challenger, champion)
    baseline = abs(champion[metric])
    relative = gain / baseline if baseline else float("inf") if gain > 0 else 0.0
    checks = [
        GateCheck(
            f"{metric} absolute improvement",
            gain >= thresholds.min_absolute_improvement - _ROUNDING,
            f"{gain:+.4f} (required >= {thresholds.min_absolute_improvement:+.4f})",
        ),
        GateCheck(
            f"{metric} relative improvement",
            relative >= thresholds.min_relative_improvement - _ROUNDING,
            f"{relative:+.2%} (required >= {thresholds.min_relative_improvement:+.2%})",
        ),
    ]
    for guarded in thresholds.guarded_metrics:
        checks.append(
            GateCheck(
                f"{guarded} not worse",
                _gain(guarded, challenger, champion) >= -_ROUNDING,
                f"challenger {challenger[guarded]:.4f} vs champion {champion[guarded]:.4f}",
            )
        )
    return checks


def schema_mismatch(
    thresholds: GateThresholds,
    challenger_version: str,
    challenger_features: list[str],
    champion_version: str,
    champion_features: list[str],
) -> GateVerdict:
    """A failed verdict without metrics: the versions do not take the same inputs.

    Serving sends the champion's requests to the challenger, so a challenger with other
    features (or another order) can never replace it.
    """
    return GateVerdict(
        passed=False,
        challenger_version=challenger_version,
        champion_version=champion_version,
        thresholds=thresholds.model_dump(),
        challenger_metrics={},
        champion_metrics=None,
        checks=[
            GateCheck(
                "input schema matches champion",
                False,
                f"challenger features {challenger_features} != champion {champion_version} "
                f"features {champion_features}",
            )
        ],
    )

"""The quality gate's decision rules, on metrics measured on the same held-out rows."""

from __future__ import annotations

import pytest

from model.errors import ConfigurationError
from model.gate import GateThresholds, GateVerdict, decide

CHAMPION = {"accuracy": 0.90, "f1_macro": 0.80}


def verdict(challenger: dict[str, float], **thresholds: object) -> GateVerdict:
    return decide(GateThresholds.parse(**thresholds), "2", challenger, "1", CHAMPION)


def failed_checks(result: GateVerdict) -> list[str]:
    return [check.name for check in result.checks if not check.passed]


def test_no_champion_passes() -> None:
    result = decide(GateThresholds(), "1", CHAMPION, None, None)
    assert result.passed
    assert result.champion_version is None


def test_equal_metrics_pass_the_default_gate() -> None:
    assert verdict(dict(CHAMPION)).passed


def test_worse_guarded_metric_fails_even_if_primary_improves() -> None:
    result = verdict({"accuracy": 0.89, "f1_macro": 0.85})
    assert not result.passed
    assert failed_checks(result) == ["accuracy not worse"]


def test_minimum_absolute_improvement() -> None:
    better = {"accuracy": 0.90, "f1_macro": 0.82}
    assert verdict(better, min_absolute_improvement=0.02).passed
    result = verdict(better, min_absolute_improvement=0.03)
    assert failed_checks(result) == ["f1_macro absolute improvement"]
    assert result.checks[0].detail == "+0.0200 (required >= +0.0300)"


def test_minimum_relative_improvement() -> None:
    better = {"accuracy": 0.90, "f1_macro": 0.84}
    assert verdict(better, min_relative_improvement=0.05).passed
    assert failed_checks(verdict(better, min_relative_improvement=0.06)) == [
        "f1_macro relative improvement"
    ]


def test_primary_and_guarded_metrics_are_configurable() -> None:
    challenger = {"accuracy": 0.95, "f1_macro": 0.70}
    assert verdict(challenger, primary_metric="accuracy", guarded_metrics=["accuracy"]).passed
    assert not verdict(challenger).passed


def test_unmeasured_metric_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match=r"gate metrics \['auc'\] were not measured"):
        verdict(dict(CHAMPION), primary_metric="auc")


def test_invalid_threshold_names_the_field() -> None:
    with pytest.raises(ConfigurationError, match="min_absolute_improvement: Input should be"):
        GateThresholds.parse(min_absolute_improvement=5)


def test_verdict_round_trips_through_json_form() -> None:
    result = verdict({"accuracy": 0.91, "f1_macro": 0.81})
    assert GateVerdict.from_dict(result.as_dict()) == result


def test_summary_keeps_only_the_metrics_the_gate_used() -> None:
    challenger = {"accuracy": 0.91, "f1_macro": 0.81, "recall_a": 0.5}
    summary = decide(
        GateThresholds(), "2", challenger, "1", {**CHAMPION, "recall_a": 0.4}
    ).summary()
    assert summary["challenger_metrics"] == {"accuracy": 0.91, "f1_macro": 0.81}
    assert summary["champion_metrics"] == CHAMPION
    assert summary["passed"] is True

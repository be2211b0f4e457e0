"""The rollout's step logic on decisions taken from recorded looks."""

from datetime import UTC, datetime

import numpy as np
import pytest

from analysis.decision import Policy, decide_sequence
from analysis.evidence import Arms
from analysis.looks import Look, PredictorCounts
from analysis.rollout import Action, Plan, next_step
from model.errors import ConfigurationError
from tests.analysis.simulated_experiments import experiment

PLAN = Plan(steps=(10, 50, 100), min_step_seconds=600)
ARMS = Arms("champion", "challenger")


def _decision(challenger: dict, champion: dict | None = None, **policy):
    champion = champion or {"requests": 90000, "feedback": 80000, "reward": 56000}
    look = Look(
        at=datetime(2026, 11, 23, tzinfo=UTC),
        predictors={
            "champion": PredictorCounts(**champion),
            "challenger": PredictorCounts(**challenger),
        },
    )
    return decide_sequence([look], ARMS, Policy(**policy))


HEALTHY_UNDECIDED = {"requests": 10000, "feedback": 9000, "reward": 6350}
"""Shown not worse than the champion by the default margin 0.02, not significantly better."""
BETTER = {"requests": 1000, "feedback": 900, "reward": 720}
FAILING = {"requests": 1000, "errors": 90, "feedback": 900, "reward": 720}
TOO_FEW = {"requests": 20, "feedback": 10, "reward": 7}


def test_a_step_younger_than_its_minimum_waits():
    step = next_step(PLAN, 10, 300, _decision(HEALTHY_UNDECIDED))
    assert (step.action, step.traffic) == (Action.WAIT, 10)
    assert "needs 300s more" in step.reason


def test_an_old_enough_step_with_healthy_guardrails_advances_one_step():
    assert next_step(PLAN, 10, 600, _decision(HEALTHY_UNDECIDED)).traffic == 50
    step = next_step(PLAN, 50, 601, _decision(HEALTHY_UNDECIDED))
    assert (step.action, step.traffic) == (Action.ADVANCE, 100)


def test_guardrails_not_yet_judged_hold_the_step():
    step = next_step(PLAN, 10, 3600, _decision(TOO_FEW))
    assert step.action is Action.WAIT
    assert "guardrails not judged" in step.reason


def test_a_step_waits_for_the_ab_tests_minimum_sample_even_with_judged_guardrails():
    """Advancing before the test has run would expose more traffic to a challenger the test
    may be about to find worse."""
    judged_untested = {"requests": 150, "feedback": 99, "reward": 70}
    step = next_step(PLAN, 10, 3600, _decision(judged_untested))
    assert (step.action, step.traffic) == (Action.WAIT, 10)
    assert "the A/B test has not run yet" in step.reason
    assert "challenger has 99 of 100 feedbacks" in step.reason


def test_a_step_waits_until_the_challenger_is_shown_not_worse():
    """A challenger that may still be worse gets no more traffic: it waits at its step until the
    test clears it or finds it worse (then it is rolled back at that step)."""
    leaning_worse = {"requests": 150, "feedback": 120, "reward": 78}
    decision = _decision(leaning_worse)
    assert decision.decision.value == "continue"
    step = next_step(PLAN, 10, 3600, decision)
    assert (step.action, step.traffic) == (Action.WAIT, 10)
    assert step.reason.startswith("not yet shown not worse by 0.02")
    assert next_step(PLAN, 10, 3600, _decision(HEALTHY_UNDECIDED)).action is Action.ADVANCE


def test_a_breached_guardrail_rolls_back_to_zero_at_any_step_and_age():
    for traffic in PLAN.steps:
        step = next_step(PLAN, traffic, 0, _decision(FAILING))
        assert (step.action, step.traffic) == (Action.ROLLBACK, 0)
        assert "error_ratio" in step.reason


def test_the_last_step_promotes_a_better_challenger_and_waits_otherwise():
    assert next_step(PLAN, 100, 0, _decision(BETTER)).action is Action.PROMOTE
    assert next_step(PLAN, 50, 0, _decision(BETTER)).action is Action.WAIT
    assert next_step(PLAN, 100, 10**6, _decision(HEALTHY_UNDECIDED)).action is Action.WAIT


def test_not_worse_within_the_margin_promotes_when_the_deployment_chooses_it():
    equal = {"requests": 20000, "feedback": 20000, "reward": 14040}
    champion = {"requests": 20000, "feedback": 20000, "reward": 14000}
    assert next_step(PLAN, 100, 0, _decision(equal, champion)).action is Action.WAIT
    decision = _decision(equal, champion, promote_when="not-worse", margin=0.02)
    assert next_step(PLAN, 100, 0, decision).action is Action.PROMOTE


def test_traffic_off_the_plan_is_refused_with_the_plan():
    with pytest.raises(ConfigurationError, match=r"traffic 30 is not a step .* \[10, 50, 100\]"):
        next_step(PLAN, 30, 0, _decision(HEALTHY_UNDECIDED))


def test_plans_must_increase_within_percentages():
    with pytest.raises(ConfigurationError, match="increasing percentages"):
        Plan(steps=(50, 10), min_step_seconds=60)


def test_a_clearly_worse_challenger_never_advances_and_is_rolled_back_at_its_first_step():
    """`make abtest-demo`'s scenario 1 simulated: 0.85 against 0.955 at 10 %, a look every 300
    feedbacks, the step old enough to advance at every look. docs/monitoring.md states the bound
    (at most 350 challenger feedbacks) and these figures."""
    rng = np.random.default_rng(20)
    rolled_back_at = []
    for _ in range(1000):
        looks = experiment(
            rng, baseline_rate=0.955, candidate_rate=0.85, candidate_share=0.1,
            looks=40, feedbacks_per_look=300,
        )  # fmt: skip
        for look in looks:
            step = next_step(PLAN, 10, 3600, decide_sequence([look], ARMS, Policy()))
            assert step.action in (Action.WAIT, Action.ROLLBACK), step
            if step.action is Action.ROLLBACK:
                rolled_back_at.append(look.predictors["challenger"].feedback)
                break
    assert len(rolled_back_at) == 1000
    assert np.median(rolled_back_at) <= 130
    assert np.percentile(rolled_back_at, 99) <= 350

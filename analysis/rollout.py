"""Progressive rollout: from the current step, its age and the A/B decision, the next action.

A plan is the challenger's traffic percentages in order (e.g. 10, 50, 100) and a minimum time
per step. On each run:
- the A/B rule says `rollback` (a guardrail breached, or significantly worse): traffic 0;
- at the last step: `promote` when the rule says promote (better, or not worse within the
  margin: the policy's `promote_when`), `keep` (traffic 0) when it reached its maximum sample
  without a difference, else wait;
- before the last step: `advance` to the next step once the step is at least the minimum time
  old, the guardrails were judged and hold, and the A/B test has shown the challenger not worse
  than the baseline by the policy's margin (always valid, at alpha); else wait. More traffic
  goes only to a challenger the evidence already clears, so a clearly worse one is rolled back
  at its first step.
"""

from dataclasses import dataclass
from enum import StrEnum

from analysis.decision import Decision, Outcome
from common.errors import ConfigurationError


class Action(StrEnum):
    WAIT = "wait"
    ADVANCE = "advance"
    ROLLBACK = "rollback"
    PROMOTE = "promote"
    KEEP = "keep"


def steps_problems(steps: list[int] | tuple[int, ...]) -> list[str]:
    """What is wrong with a plan's traffic steps: the one rule for stack files
    (`deployments[].rollout.steps`) and for plans built here."""
    problems = []
    if not steps:
        return ["a rollout needs at least one step"]
    if any(not 1 <= step <= 100 for step in steps):
        problems.append(f"steps are percents from 1 to 100, got {list(steps)}")
    if any(later <= earlier for earlier, later in zip(steps, steps[1:], strict=False)):
        problems.append(f"steps must be strictly increasing percentages, got {list(steps)}")
    if steps[-1] != 100:
        problems.append(f"the last step must be 100 (full traffic), got {list(steps)}")
    return problems


@dataclass(frozen=True)
class Plan:
    """The challenger's traffic steps in percent and the minimum seconds at each."""

    steps: tuple[int, ...]
    min_step_seconds: float

    def __post_init__(self) -> None:
        problems = steps_problems(self.steps)
        if problems:
            raise ConfigurationError(f"rollout steps: {'; '.join(problems)}")


@dataclass(frozen=True)
class Step:
    """What to do now: the action, the challenger's traffic after it, and why."""

    action: Action
    traffic: int
    reason: str


def next_step(plan: Plan, traffic: int, step_age_seconds: float, decision: Decision) -> Step:
    """The action for a challenger at `traffic` percent whose step began `step_age_seconds` ago."""
    if traffic == 0:
        return Step(Action.WAIT, 0, "the challenger has no traffic: no rollout in progress")
    if traffic not in plan.steps:
        raise ConfigurationError(
            f"the challenger's traffic {traffic} is not a step of the rollout plan "
            f"{list(plan.steps)}; set it to {plan.steps[0]} to start the rollout"
        )
    if decision.decision is Outcome.ROLLBACK:
        return Step(Action.ROLLBACK, 0, decision.reason)
    index = plan.steps.index(traffic)
    if index == len(plan.steps) - 1:
        if decision.decision is Outcome.PROMOTE:
            return Step(Action.PROMOTE, traffic, decision.reason)
        if decision.decision is Outcome.KEEP:
            return Step(Action.KEEP, 0, decision.reason)
        return Step(Action.WAIT, traffic, f"last step, no decision yet: {decision.reason}")
    if decision.decision is Outcome.KEEP:
        return Step(Action.KEEP, 0, decision.reason)
    remaining = plan.min_step_seconds - step_age_seconds
    if remaining > 0:
        return Step(
            Action.WAIT,
            traffic,
            f"step {index + 1} of {len(plan.steps)} ({traffic}%) needs {remaining:.0f}s more",
        )
    if not decision.guardrails:
        return Step(
            Action.WAIT,
            traffic,
            f"guardrails not judged yet: {decision.candidate} needs more requests",
        )
    if decision.p_value is None:
        return Step(Action.WAIT, traffic, f"the A/B test has not run yet: {decision.reason}")
    if not decision.shown_not_worse:
        return Step(
            Action.WAIT,
            traffic,
            f"not yet shown not worse by {decision.margin} (p="
            f"{decision.non_inferiority_p_value:.3g}): {decision.reason}",
        )
    following = plan.steps[index + 1]
    checks = ", ".join(f"{g.name} ok" for g in decision.guardrails)
    return Step(
        Action.ADVANCE, following, f"step {traffic}% held {step_age_seconds:.0f}s, {checks}"
    )

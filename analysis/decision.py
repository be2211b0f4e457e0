"""The A/B decision rule, look by look: guardrails first, then the always-valid sequential test.

At each look, on cumulative counts:
1. Guardrails, once the candidate has `minimum_samples` prediction requests: its 5xx ratio at most
   `max_error_ratio`, its p95 latency at most the baseline's times (1 + `latency_tolerance`) plus
   `latency_slack_seconds`. A breach is `rollback`.
2. The test waits (`continue`) until both arms have `minimum_samples` feedbacks.
3. mSPRT on the feedback success rates (`analysis.statistics`): the always-valid p-value of
   'no difference' at or below `alpha` decides `promote` (candidate better) or `rollback`
   (candidate worse). The mSPRT of 'the candidate is worse by `margin`' is reported too (the
   rollout advances only once it is rejected); with `promote_when="not-worse"`, `promote` needs
   it rejected at `alpha` instead (and the candidate not significantly worse).
4. With `max_samples`, both arms reaching it without a decision is `keep` (the baseline stays).
Otherwise `continue`. Applied to a sequence of looks, the rule stops at the first decision other
than `continue`; the type-I error holds however many looks there are (Ville's inequality).
"""

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Literal

from analysis.evidence import Arms
from analysis.looks import Look, PredictorCounts
from analysis.statistics import METHOD, Proportion, msprt_p_value
from common.checks import GateCheck
from common.errors import ConfigurationError


class Outcome(StrEnum):
    PROMOTE = "promote"
    KEEP = "keep"
    ROLLBACK = "rollback"
    CONTINUE = "continue"


PromoteWhen = Literal["better", "not-worse"]


@dataclass(frozen=True)
class Policy:
    """How sure the rule must be, what it is tuned for, and what the candidate may never do."""

    alpha: float = field(default=0.05, metadata={"help": "type-I error bound"})
    mixing_sd: float = field(
        default=0.05,
        metadata={
            "help": "sd of the mSPRT's normal mixture: the rate difference it finds fastest "
            "(%(default)s)"
        },
    )
    """Standard deviation of the normal mixture over the rate difference: the size of effect the
    test is quickest to find (Johari et al. recommend the scale of effects seen before)."""
    minimum_samples: int = field(
        default=100,
        metadata={
            "flag": "--min-samples",
            "help": "feedbacks per arm (and candidate requests for guardrails) before any decision",
        },
    )
    max_samples: int | None = field(
        default=None,
        metadata={"help": "feedbacks per arm after which no difference is keep"},
    )
    max_error_ratio: float = field(default=0.05, metadata={"help": "5xx guardrail"})
    latency_tolerance: float = field(
        default=0.2,
        metadata={"help": "allowed p95 increase over the baseline, as a fraction (%(default)s)"},
    )
    latency_slack_seconds: float = 0.005
    promote_when: PromoteWhen = field(
        default="better",
        metadata={
            "help": "promote on significantly better, or on not worse by --margin (%(default)s)"
        },
    )
    margin: float = field(default=0.02, metadata={"help": "non-inferiority margin"})
    """For `promote_when="not-worse"`: how much lower the candidate's rate may be."""

    def __post_init__(self) -> None:
        problems = [
            message
            for ok, message in (
                (0 < self.alpha < 0.5, "alpha must be in (0, 0.5)"),
                (0 < self.mixing_sd <= 1, "mixing sd must be in (0, 1]"),
                (self.minimum_samples >= 1, "minimum samples must be at least 1"),
                (
                    self.max_samples is None or self.max_samples >= self.minimum_samples,
                    "max samples must be at least the minimum samples",
                ),
                (0 < self.max_error_ratio < 1, "max error ratio must be in (0, 1)"),
                (self.latency_tolerance >= 0, "latency tolerance must be >= 0"),
                (self.latency_slack_seconds >= 0, "latency slack must be >= 0"),
                (self.promote_when in ("better", "not-worse"), "promote when: better|not-worse"),
                (0 < self.margin < 1, "margin must be in (0, 1)"),
            )
            if not ok
        ]
        if problems:
            raise ConfigurationError(f"invalid A/B policy: {'; '.join(problems)}")


@dataclass(frozen=True)
class Decision:
    """What the rule says at `look`, and every number it rests on."""

    decision: Outcome
    reason: str
    look: int
    at: str
    baseline: str
    candidate: str
    method: str
    alpha: float
    p_value: float | None
    difference: float | None
    non_inferiority_p_value: float | None
    """Always-valid p-value of 'the candidate is worse by `margin` or more' (None: not tested)."""
    margin: float
    counts: dict[str, PredictorCounts]
    guardrails: list[GateCheck] = field(default_factory=list)

    @property
    def shown_not_worse(self) -> bool:
        """The test rejects 'worse by `margin` or more' at `alpha`, on the better side."""
        return (
            self.non_inferiority_p_value is not None
            and self.non_inferiority_p_value <= self.alpha
            and self.difference + self.margin > 0
        )

    def as_dict(self) -> dict:
        return {
            **{key: value for key, value in asdict(self).items() if key != "counts"},
            "decision": self.decision.value,
            "counts": {name: _counts(counts) for name, counts in self.counts.items()},
        }


def decide_look(look: Look, index: int, arms: Arms, policy: Policy) -> Decision:
    """The rule on one look's cumulative counts."""
    for name in (arms.baseline, arms.candidate):
        if name not in look.predictors:
            raise ConfigurationError(
                f"look {index} ({look.at.isoformat()}) has no counts for predictor {name!r}"
            )
    base, cand = look.predictors[arms.baseline], look.predictors[arms.candidate]
    guardrails = guardrail_checks(base, cand, policy)
    common = {
        "look": index,
        "at": look.at.isoformat(),
        "baseline": arms.baseline,
        "candidate": arms.candidate,
        "method": METHOD,
        "alpha": policy.alpha,
        "margin": policy.margin,
        "counts": dict(look.predictors),
        "guardrails": guardrails,
    }
    failed = [g for g in guardrails if not g.passed]
    no_test = {"p_value": None, "difference": None, "non_inferiority_p_value": None}
    if failed:
        breached = ", ".join(f"{g.name} ({g.detail})" for g in failed)
        return Decision(Outcome.ROLLBACK, f"guardrail breached: {breached}", **no_test, **common)
    short = [
        f"{name} has {counts.feedback} of {policy.minimum_samples} feedbacks"
        for name, counts in ((arms.baseline, base), (arms.candidate, cand))
        if counts.feedback < policy.minimum_samples
    ]
    if short:
        return Decision(
            Outcome.CONTINUE, "minimum sample not reached: " + "; ".join(short), **no_test, **common
        )
    baseline_rate, candidate_rate = _rate(base), _rate(cand)
    difference = candidate_rate.rate - baseline_rate.rate
    p_value = msprt_p_value(baseline_rate, candidate_rate, policy.mixing_sd)
    p_not_worse = msprt_p_value(
        baseline_rate, candidate_rate, policy.mixing_sd, shift=policy.margin
    )
    tested = {"p_value": p_value, "difference": difference, "non_inferiority_p_value": p_not_worse}
    rates = (
        f"success rate {candidate_rate.rate:.4f} ({arms.candidate}) vs "
        f"{baseline_rate.rate:.4f} ({arms.baseline}), always-valid p={p_value:.3g}"
    )
    if p_value <= policy.alpha and difference < 0:
        return Decision(Outcome.ROLLBACK, f"significantly worse: {rates}", **tested, **common)
    if policy.promote_when == "better" and p_value <= policy.alpha:
        return Decision(Outcome.PROMOTE, f"significantly better: {rates}", **tested, **common)
    if (
        policy.promote_when == "not-worse"
        and p_not_worse <= policy.alpha
        and (difference + policy.margin > 0)
    ):
        return Decision(
            Outcome.PROMOTE,
            f"not worse by {policy.margin} or more (p={p_not_worse:.3g}): {rates}",
            **tested,
            **common,
        )
    if policy.max_samples is not None and min(base.feedback, cand.feedback) >= policy.max_samples:
        return Decision(
            Outcome.KEEP,
            f"maximum sample {policy.max_samples} reached without a difference: {rates}",
            **tested,
            **common,
        )
    return Decision(Outcome.CONTINUE, f"no decision yet: {rates}", **tested, **common)


def decide_sequence(looks: list[Look], arms: Arms, policy: Policy) -> Decision:
    """The rule applied look by look; the first decision other than `continue`, else the last."""
    for index, look in enumerate(looks):
        decision = decide_look(look, index, arms, policy)
        if decision.decision is not Outcome.CONTINUE:
            return decision
    return decision


def guardrail_checks(
    baseline: PredictorCounts, candidate: PredictorCounts, policy: Policy
) -> list[GateCheck]:
    """Error ratio and p95 latency of the candidate, judged once it has the minimum sample."""
    if candidate.requests < policy.minimum_samples:
        return []
    ratio = candidate.errors / candidate.requests
    checks = [
        GateCheck(
            "error_ratio",
            ratio <= policy.max_error_ratio,
            f"{ratio:.4f} of {candidate.requests} requests answered 5xx, "
            f"limit {policy.max_error_ratio}",
        )
    ]
    base_p95, cand_p95 = baseline.p95_latency_seconds, candidate.p95_latency_seconds
    if base_p95 is not None and cand_p95 is not None:
        limit = base_p95 * (1 + policy.latency_tolerance) + policy.latency_slack_seconds
        checks.append(
            GateCheck(
                "p95_latency",
                cand_p95 <= limit,
                f"{cand_p95:.4g}s, limit {limit:.4g}s (baseline {base_p95:.4g}s "
                f"+ {policy.latency_tolerance:.0%} + {policy.latency_slack_seconds}s)",
            )
        )
    return checks


def _rate(counts: PredictorCounts) -> Proportion:
    return Proportion(counts.reward, counts.feedback)


def _counts(counts: PredictorCounts) -> dict:
    return {**counts.model_dump(), "success_rate": _rate(counts).rate}

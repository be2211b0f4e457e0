"""The A/B verdict: is the challenger better than the champion, by enough evidence to act on?

The primary metric is the feedback success rate (mean 0/1 reward per answered feedback request)
when both predictors received feedback, otherwise availability (share of prediction requests not
answered 5xx). GateChecks: the challenger's p95 latency may exceed the champion's by at most the
latency tolerance, and (when judged on success rate) its availability must not be significantly
lower.
"""

from dataclasses import asdict, dataclass, field
from enum import StrEnum

from model.abtest.evidence import PredictorEvidence
from model.abtest.statistics import (
    METHOD,
    Proportion,
    one_sided_z_test,
    sample_size_per_arm,
)
from model.errors import ConfigurationError
from model.gate import GateCheck

SUCCESS_RATE = "feedback success rate"
AVAILABILITY = "availability"


class Verdict(StrEnum):
    PROMOTE = "promote"
    KEEP_CHAMPION = "keep-champion"
    INSUFFICIENT_DATA = "insufficient-data"


@dataclass(frozen=True)
class Policy:
    """How sure the test must be, and how large an effect it must be able to see."""

    significance_level: float = 0.05
    power: float = 0.8
    minimum_effect: float = 0.02
    minimum_samples: int = 100
    latency_tolerance: float = 0.2

    def __post_init__(self) -> None:
        problems = [
            message
            for ok, message in (
                (0 < self.significance_level < 0.5, "significance level must be in (0, 0.5)"),
                (0.5 <= self.power < 1, "power must be in [0.5, 1)"),
                (0 < self.minimum_effect <= 0.5, "minimum effect must be in (0, 0.5]"),
                (self.minimum_samples >= 1, "minimum samples must be at least 1"),
                (self.latency_tolerance >= 0, "latency tolerance must be >= 0"),
            )
            if not ok
        ]
        if problems:
            raise ConfigurationError(f"invalid A/B policy {self}: {'; '.join(problems)}")


@dataclass(frozen=True)
class Arm:
    """One side of the test as the decision saw it."""

    predictor: str
    rate: float
    successes: float
    trials: int
    needed: int
    p95_latency_seconds: float | None
    availability: float


@dataclass(frozen=True)
class Decision:
    """The verdict, why, and every number it rests on."""

    verdict: Verdict
    recommendation: str
    method: str
    metric: str
    significance_level: float
    power: float
    minimum_effect: float
    champion: Arm
    challenger: Arm
    z: float | None = None
    p_value: float | None = None
    guardrails: list[GateCheck] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def decide(
    champion: PredictorEvidence,
    challenger: PredictorEvidence,
    policy: Policy,
    window_seconds: float,
) -> Decision:
    """Test H1 'challenger beats champion' on the primary metric at the policy's level."""
    judged_on_feedback = champion.feedback_requests > 0 and challenger.feedback_requests > 0
    metric = SUCCESS_RATE if judged_on_feedback else AVAILABILITY
    base, cand = (_primary(e, judged_on_feedback) for e in (champion, challenger))
    needed = max(
        policy.minimum_samples,
        sample_size_per_arm(
            base.rate if base.trials else 0.5,
            policy.minimum_effect,
            policy.significance_level,
            policy.power,
        ),
    )
    arms = [_arm(e, p, needed) for e, p in ((champion, base), (challenger, cand))]
    common = {
        "method": METHOD,
        "metric": metric,
        "significance_level": policy.significance_level,
        "power": policy.power,
        "minimum_effect": policy.minimum_effect,
        "champion": arms[0],
        "challenger": arms[1],
    }
    short = [arm for arm in arms if arm.trials < needed]
    if short:
        unit = "answered feedback requests" if judged_on_feedback else "prediction requests"
        missing = "; ".join(_missing(arm, unit, window_seconds) for arm in short)
        return Decision(
            verdict=Verdict.INSUFFICIENT_DATA,
            recommendation=f"not enough data to decide: {missing}. Keep the split and re-run.",
            **common,
        )
    better = one_sided_z_test(base, cand)
    worse = one_sided_z_test(cand, base)
    guardrails = _guardrails(champion, challenger, policy, judged_on_feedback)
    alpha = policy.significance_level
    summary = (
        f"{metric} {cand.rate:.4f} ({challenger.predictor}) vs {base.rate:.4f} "
        f"({champion.predictor}), p={better.p_value:.3g}"
    )
    failed = [g for g in guardrails if not g.passed]
    if better.p_value < alpha and not failed:
        verdict = Verdict.PROMOTE
        recommendation = (
            f"promote {challenger.predictor}: better at significance level {alpha} ({summary})"
        )
    else:
        verdict = Verdict.KEEP_CHAMPION
        if better.p_value < alpha:
            reason = "better but fails " + ", ".join(f"{g.name} ({g.detail})" for g in failed)
        elif worse.p_value < alpha:
            reason = f"significantly worse (p={worse.p_value:.3g} < {alpha})"
        else:
            reason = f"not significantly better (p={better.p_value:.3g} >= {alpha})"
        recommendation = f"keep {champion.predictor}: {challenger.predictor} is {reason}; {summary}"
    return Decision(
        verdict=verdict,
        recommendation=recommendation,
        z=better.z,
        p_value=better.p_value,
        guardrails=guardrails,
        **common,
    )


def _availability(evidence: PredictorEvidence) -> Proportion:
    return Proportion(evidence.requests - evidence.errors, evidence.requests)


def _primary(evidence: PredictorEvidence, judged_on_feedback: bool) -> Proportion:
    if not judged_on_feedback:
        return _availability(evidence)
    if evidence.feedback_reward > evidence.feedback_requests:
        raise ConfigurationError(
            f"predictor {evidence.predictor} has a reward sum of {evidence.feedback_reward:g} over "
            f"{evidence.feedback_requests} feedback requests; the success-rate test expects "
            "rewards of 0 or 1"
        )
    return Proportion(evidence.feedback_reward, evidence.feedback_requests)


def _arm(evidence: PredictorEvidence, primary: Proportion, needed: int) -> Arm:
    return Arm(
        predictor=evidence.predictor,
        rate=primary.rate,
        successes=primary.successes,
        trials=primary.trials,
        needed=needed,
        p95_latency_seconds=evidence.p95_latency_seconds,
        availability=_availability(evidence).rate,
    )


def _missing(arm: Arm, unit: str, window_seconds: float) -> str:
    more = arm.needed - arm.trials
    text = f"{arm.predictor} needs {more} more {unit} (has {arm.trials} of {arm.needed})"
    if arm.trials:
        hours = more / (arm.trials / window_seconds) / 3600
        text += f", about {hours:.1f} h at its current traffic"
    return text


def _guardrails(
    champion: PredictorEvidence,
    challenger: PredictorEvidence,
    policy: Policy,
    judged_on_feedback: bool,
) -> list[GateCheck]:
    guardrails = []
    base_p95, cand_p95 = champion.p95_latency_seconds, challenger.p95_latency_seconds
    if base_p95 is not None and cand_p95 is not None:
        limit = base_p95 * (1 + policy.latency_tolerance)
        guardrails.append(
            GateCheck(
                "latency",
                cand_p95 <= limit,
                f"p95 {cand_p95:.4g}s vs limit {limit:.4g}s "
                f"({champion.predictor} {base_p95:.4g}s + {policy.latency_tolerance:.0%})",
            )
        )
    if judged_on_feedback and champion.requests and challenger.requests:
        worse = one_sided_z_test(_availability(challenger), _availability(champion))
        guardrails.append(
            GateCheck(
                "availability",
                worse.p_value >= policy.significance_level,
                f"{_availability(challenger).rate:.4f} vs {_availability(champion).rate:.4f}, "
                f"p(worse)={worse.p_value:.3g}",
            )
        )
    return guardrails

"""The A/B test's statistics: a one-sided pooled two-proportion z-test and its sample size."""

from dataclasses import dataclass
from math import ceil, sqrt
from statistics import NormalDist

METHOD = "one-sided two-proportion z-test (pooled variance)"
STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class Proportion:
    """`successes` out of `trials` (a success may be a 0/1 reward or a non-5xx answer)."""

    successes: float
    trials: int

    @property
    def rate(self) -> float:
        return self.successes / self.trials if self.trials else 0.0


@dataclass(frozen=True)
class ZTest:
    """Outcome of testing H1 'the candidate's rate is higher than the baseline's'."""

    z: float
    p_value: float


def one_sided_z_test(baseline: Proportion, candidate: Proportion) -> ZTest:
    """Pooled two-proportion z-test of H1: candidate rate > baseline rate."""
    pooled = (baseline.successes + candidate.successes) / (baseline.trials + candidate.trials)
    spread = sqrt(pooled * (1 - pooled) * (1 / baseline.trials + 1 / candidate.trials))
    z = (candidate.rate - baseline.rate) / spread if spread else 0.0
    return ZTest(z=z, p_value=1 - STANDARD_NORMAL.cdf(z))


def sample_size_per_arm(
    baseline_rate: float, minimum_effect: float, significance_level: float, power: float
) -> int:
    """Trials each arm needs for the one-sided test to detect `minimum_effect` (absolute).

    The alternative is `baseline + effect`, or `baseline - effect` when that would pass 1.
    """
    alternative = baseline_rate + minimum_effect
    if alternative > 1:
        alternative = baseline_rate - minimum_effect
    mean = (baseline_rate + alternative) / 2
    z_alpha = STANDARD_NORMAL.inv_cdf(1 - significance_level)
    z_beta = STANDARD_NORMAL.inv_cdf(power)
    spread = z_alpha * sqrt(2 * mean * (1 - mean)) + z_beta * sqrt(
        baseline_rate * (1 - baseline_rate) + alternative * (1 - alternative)
    )
    return ceil((spread / minimum_effect) ** 2)

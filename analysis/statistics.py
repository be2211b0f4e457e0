"""Always-valid sequential comparison of two success rates: the mixture SPRT (mSPRT).

Johari, Koomen, Pekelis and Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests",
Operations Research 70(3), 2022 (arXiv:1512.04922), section 4: with a normal mixing distribution
N(0, tau^2) over the difference theta of the two means, the mixture likelihood ratio of the
observed difference d (variance s2 under the plug-in estimate) is

    Lambda = sqrt(s2 / (s2 + tau^2)) * exp(tau^2 * (d - theta0)^2 / (2 * s2 * (s2 + tau^2)))

a martingale under H0: theta = theta0 in information time, so by Ville's inequality
P(Lambda ever >= 1/alpha | H0) <= alpha however often it is computed. The always-valid p-value is
min(1, 1/Lambda), kept as a running minimum over looks.
"""

from dataclasses import dataclass
from math import exp, log

METHOD = "mixture sequential probability ratio test (mSPRT, Johari et al. 2022), always valid"


@dataclass(frozen=True)
class Proportion:
    """`successes` out of `trials` (a success is a reward of 1)."""

    successes: float
    trials: int

    @property
    def rate(self) -> float:
        return self.successes / self.trials if self.trials else 0.0


def msprt_p_value(
    baseline: Proportion, candidate: Proportion, mixing_sd: float, shift: float = 0.0
) -> float:
    """Always-valid p-value of H0 'candidate rate - baseline rate = -shift' at this look.

    `shift` > 0 tests non-inferiority: rejecting H0 with a positive difference says the candidate
    is not worse than the baseline by `shift` or more. The variance uses the pooled rate (the
    null's common rate) for `shift` 0 and each arm's own rate otherwise.
    """
    if not baseline.trials or not candidate.trials:
        return 1.0
    if shift:
        variance = (
            _rate_variance(baseline.rate) / baseline.trials
            + _rate_variance(candidate.rate) / candidate.trials
        )
    else:
        pooled = (baseline.successes + candidate.successes) / (baseline.trials + candidate.trials)
        variance = _rate_variance(pooled) * (1 / baseline.trials + 1 / candidate.trials)
    if variance <= 0:
        return 1.0
    difference = candidate.rate - baseline.rate + shift
    tau2 = mixing_sd**2
    exponent = tau2 * difference**2 / (2 * variance * (variance + tau2))
    # 1/Lambda, computed without overflowing exp() for overwhelming evidence.
    log_inverse = -exponent - 0.5 * log(variance / (variance + tau2))
    return 1.0 if log_inverse >= 0 else exp(log_inverse)


def _rate_variance(rate: float) -> float:
    return rate * (1 - rate)

"""Monte Carlo of the decision rule: type-I error under many looks, and power under a real effect.

The rule is a pure function of the looks, so thousands of simulated experiments run in seconds.
Under H0 (equal true reward rates) the share of experiments that ever declare the challenger
the winner must stay at or below alpha plus three binomial standard errors. The same looks fed
to a fixed-horizon z-test re-run at every look show why: it exceeds alpha several times over.
"""

from math import sqrt
from statistics import NormalDist

import numpy as np
import pytest

from analysis.decision import Outcome, Policy, decide_sequence
from analysis.evidence import Arms
from tests.analysis.simulated_experiments import experiment

ARMS = Arms(baseline="champion", candidate="challenger")
POLICY = Policy()
EXPERIMENTS = 1000
LOOKS = 40


def _slack(rate: float, n: int) -> float:
    return 3 * sqrt(rate * (1 - rate) / n)


def _outcomes(seed: int, **simulation) -> dict[Outcome, int]:
    rng = np.random.default_rng(seed)
    tally = dict.fromkeys(Outcome, 0)
    for _ in range(EXPERIMENTS):
        looks = experiment(rng, looks=LOOKS, **simulation)
        tally[decide_sequence(looks, ARMS, POLICY).decision] += 1
    return tally


@pytest.mark.parametrize(
    ("rate", "share"),
    [(0.7, 0.1), (0.5, 0.5), (0.9, 0.3)],
    ids=["prod-split-90-10", "even-split", "high-rate"],
)
def test_equal_rates_declare_a_false_winner_at_most_alpha_of_the_time(rate, share):
    tally = _outcomes(
        seed=int(rate * 100 + share * 10),
        baseline_rate=rate,
        candidate_rate=rate,
        candidate_share=share,
        feedbacks_per_look=200,
    )
    false_winners = tally[Outcome.PROMOTE] / EXPERIMENTS
    any_difference = (tally[Outcome.PROMOTE] + tally[Outcome.ROLLBACK]) / EXPERIMENTS
    assert false_winners <= POLICY.alpha + _slack(POLICY.alpha, EXPERIMENTS)
    assert any_difference <= POLICY.alpha + _slack(POLICY.alpha, EXPERIMENTS)


def test_a_fixed_horizon_z_test_rerun_at_every_look_exceeds_alpha():
    """The failure this rule replaces: the same H0 looks, one-sided z-test at each look."""
    rng = np.random.default_rng(7)
    critical = NormalDist().inv_cdf(1 - POLICY.alpha)
    winners = 0
    for _ in range(EXPERIMENTS):
        for look in experiment(
            rng,
            baseline_rate=0.7,
            candidate_rate=0.7,
            candidate_share=0.5,
            looks=LOOKS,
            feedbacks_per_look=200,
        ):
            base, cand = look.predictors["champion"], look.predictors["challenger"]
            pooled = (base.reward + cand.reward) / (base.feedback + cand.feedback)
            spread = sqrt(pooled * (1 - pooled) * (1 / base.feedback + 1 / cand.feedback))
            if (cand.reward / cand.feedback - base.reward / base.feedback) / spread > critical:
                winners += 1
                break
    assert winners / EXPERIMENTS > 3 * POLICY.alpha


def test_power_under_a_real_effect():
    """Power stated in docs/monitoring.md: 0.70 -> 0.75, even split, 40 looks of 200 feedbacks
    (8000 in all): the challenger is found better in at least 90 % of experiments."""
    tally = _outcomes(
        seed=11,
        baseline_rate=0.70,
        candidate_rate=0.75,
        candidate_share=0.5,
        feedbacks_per_look=200,
    )
    assert tally[Outcome.PROMOTE] / EXPERIMENTS >= 0.90
    assert tally[Outcome.ROLLBACK] == 0


def test_a_worse_challenger_is_rolled_back_at_the_prod_split():
    tally = _outcomes(
        seed=13,
        baseline_rate=0.80,
        candidate_rate=0.70,
        candidate_share=0.1,
        feedbacks_per_look=200,
    )
    assert tally[Outcome.ROLLBACK] / EXPERIMENTS >= 0.90
    assert tally[Outcome.PROMOTE] == 0

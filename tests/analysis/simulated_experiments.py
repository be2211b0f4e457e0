"""Simulated A/B experiments as cumulative looks, the shape evidence files and Prometheus give."""

from datetime import UTC, datetime, timedelta

import numpy as np

from analysis.looks import Look, PredictorCounts

START = datetime(2026, 11, 23, tzinfo=UTC)


def experiment(
    rng: np.random.Generator,
    *,
    baseline_rate: float,
    candidate_rate: float,
    candidate_share: float,
    looks: int,
    feedbacks_per_look: int,
    errors_per_request: float = 0.0,
) -> list[Look]:
    """`looks` cumulative looks; each adds `feedbacks_per_look` requests (each with feedback)
    split at random between baseline and candidate, rewards Bernoulli at each arm's true rate."""
    to_candidate = rng.binomial(feedbacks_per_look, candidate_share, looks)
    arms = {"champion": feedbacks_per_look - to_candidate, "challenger": to_candidate}
    rates = {"champion": baseline_rate, "challenger": candidate_rate}
    counts = {}
    for name, per_look in arms.items():
        trials = per_look.cumsum()
        counts[name] = (
            trials,
            rng.binomial(per_look, rates[name]).cumsum(),
            rng.binomial(per_look, errors_per_request).cumsum(),
        )
    return [
        Look.model_construct(
            at=START + timedelta(hours=index),
            predictors={
                name: PredictorCounts.model_construct(
                    requests=int(trials[index]),
                    errors=int(errors[index]),
                    feedback=int(trials[index]),
                    reward=float(rewards[index]),
                    p95_latency_seconds=None,
                    shadow=False,
                )
                for name, (trials, rewards, errors) in counts.items()
            },
        )
        for index in range(looks)
    ]


def as_file(looks: list[Look]) -> dict:
    """The evidence-file JSON of `looks`."""
    return {
        "looks": [
            {
                "at": look.at.isoformat(),
                "predictors": {
                    name: counts.model_dump(exclude={"shadow"})
                    for name, counts in look.predictors.items()
                },
            }
            for look in looks
        ]
    }

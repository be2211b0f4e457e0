"""Evidence an A/B decision rests on: cumulative counts per predictor at a sequence of looks.

It comes from a recorded evidence file (audits, replays, simulations) or from Prometheus
(`analysis.prometheus`); both give the same `Look`s, so the same rule decides on both.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
)

from analysis.consistency import check_looks
from analysis.looks import Look
from common.errors import ConfigurationError, describe_validation_error


class EvidenceFile(BaseModel):
    looks: list[Look] = Field(min_length=1)


@dataclass(frozen=True)
class Arms:
    """Which predictor is the baseline and which the candidate."""

    baseline: str
    candidate: str


def read_evidence_file(path: Path) -> list[Look]:
    """The looks of an evidence file, validated: JSON shape, counts >= 0, and counts that agree
    with each other (`analysis.consistency`)."""
    try:
        raw = json.loads(path.read_text())
    except OSError as error:
        raise ConfigurationError(f"cannot read evidence file {path}: {error.strerror}") from None
    except ValueError as error:
        raise ConfigurationError(f"evidence file {path} is not JSON: {error}") from None
    try:
        looks = EvidenceFile.model_validate(raw).looks
    except ValidationError as error:
        raise ConfigurationError(
            f"evidence file {path} does not match "
            '{"looks": [{"at": "<ISO time>", "predictors": {"<name>": {"requests": N, '
            '"errors": N, "feedback": N, "reward": R, "p95_latency_seconds": S}}}]}:\n'
            + describe_validation_error(error)
        ) from None
    check_looks(looks, where=f"evidence file {path}")
    return looks


def choose_arms(look: Look, baseline: str | None = None, candidate: str | None = None) -> Arms:
    """Baseline: the named one, else the non-shadow predictor with the most requests at `look`
    (on a tie, the one listed first). Candidate: the named one, else the only other non-shadow
    predictor."""
    live = {name for name, counts in look.predictors.items() if not counts.shadow}
    for role, name in (("baseline", baseline), ("candidate", candidate)):
        if name is not None and name not in look.predictors:
            raise ConfigurationError(
                f"--{role} {name!r} is not in the evidence; predictors: {sorted(look.predictors)}"
            )
    if baseline is None:
        order = list(look.predictors)
        ranked = sorted(
            live - {candidate},
            key=lambda name: (-look.predictors[name].requests, order.index(name)),
        )
        if not ranked:
            raise ConfigurationError(
                f"no baseline: the evidence has no non-shadow predictor besides {candidate!r}"
            )
        baseline = ranked[0]
    if candidate is None:
        others = sorted(live - {baseline})
        if len(others) != 1:
            raise ConfigurationError(
                f"cannot tell the candidate: non-shadow predictors besides the baseline "
                f"{baseline!r} are {others or 'none'}; name one with --candidate"
            )
        candidate = others[0]
    if candidate == baseline:
        raise ConfigurationError(f"baseline and candidate are both {baseline!r}")
    return Arms(baseline=baseline, candidate=candidate)

"""Evidence the A/B rule refuses: counts that honest, exact counters could not have produced.

A decision on such counts would rest on lost or misattributed data, so the analysis stops and
says which arm, which metric and which values disagree; no rollout step follows.
"""

from collections.abc import Iterable

from analysis.looks import Look
from common.errors import LifecycleError

REWARD_RANGE = (0.0, 1.0)
"""Every feedback's reward: the rule compares success rates of 0/1 rewards."""


class InconsistentEvidence(LifecycleError):
    """The counts contradict each other; `problems` names each contradiction."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"inconsistent evidence from {where}, no decision taken:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )


def look_problems(look: Look, reward_range: tuple[float, float] = REWARD_RANGE) -> list[str]:
    """Contradictions inside one look, arm by arm."""
    low, high = reward_range
    problems = []
    for name, counts in look.predictors.items():
        arm = f"arm {name!r} at {look.at.isoformat()}"
        if counts.errors > counts.requests:
            problems.append(
                f"{arm}: {counts.errors} 5xx answers exceed its {counts.requests} prediction "
                "requests"
            )
        if counts.feedback and not counts.requests:
            problems.append(
                f"{arm}: {counts.feedback} feedbacks but no prediction requests; feedback is "
                "credited to the predictor that answered"
            )
        if not low * counts.feedback <= counts.reward <= high * counts.feedback:
            problems.append(
                f"{arm}: reward sum {counts.reward:g} outside [{low:g}, {high:g}] x "
                f"{counts.feedback} feedbacks = [{low * counts.feedback:g}, "
                f"{high * counts.feedback:g}]"
            )
    return problems


def sequence_problems(looks: list[Look]) -> list[str]:
    """Looks out of time order, or a cumulative count that went down from one look to the next."""
    problems = []
    for index in range(1, len(looks)):
        before, now = looks[index - 1], looks[index]
        if now.at < before.at:
            problems.append(
                f"look {index} at {now.at.isoformat()} is before look {index - 1} at "
                f"{before.at.isoformat()}; looks must be in time order"
            )
        for name, counts in now.predictors.items():
            previous = before.predictors.get(name)
            for key in ("requests", "errors", "feedback", "reward"):
                if previous is not None and getattr(counts, key) < getattr(previous, key):
                    problems.append(
                        f"arm {name!r} {key}: {getattr(previous, key):g} at look {index - 1}, "
                        f"{getattr(counts, key):g} at look {index}; cumulative counts never "
                        "go down"
                    )
    return problems


def check_looks(looks: list[Look], where: str, extra: Iterable[str] = ()) -> None:
    """Refuse the looks read from `where` if any contradicts (or `extra` problems were found
    while reading them)."""
    problems = [*extra, *sequence_problems(looks)]
    for look in looks:
        problems += look_problems(look)
    if problems:
        raise InconsistentEvidence(where, problems)

"""The shadow's screening of the candidate: how often it answered the mirrored requests
differently from the champion, and whether that allows exposing it to callers.

The counts are the shadow's own (serving/shadow_comparison.py), exact over the window
(`promql.counted`). Too few compared rows is not a pass: the canary waits for evidence.
"""

from dataclasses import asdict, dataclass

from analysis import promql
from analysis.prometheus import query_by_predictor


@dataclass(frozen=True)
class Screening:
    """The shadow's comparison over one window and the verdict against the declared bound."""

    shadow: str
    compared: int
    disagreeing: int
    bound: float
    minimum_rows: int

    @property
    def rate(self) -> float | None:
        return self.disagreeing / self.compared if self.compared else None

    @property
    def passed(self) -> bool:
        return self.compared >= self.minimum_rows and self.rate <= self.bound

    @property
    def reason(self) -> str:
        if self.compared < self.minimum_rows:
            return (
                f"the shadow {self.shadow!r} compared {self.compared} rows with the champion, "
                f"fewer than the {self.minimum_rows} needed to judge its disagreement"
            )
        verdict = "within" if self.passed else "above"
        return (
            f"the shadow {self.shadow!r} disagreed with the champion on {self.disagreeing} of "
            f"{self.compared} mirrored rows ({self.rate:.2%}), {verdict} the bound "
            f"maxShadowDisagreement {self.bound:.2%}"
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "rate": self.rate, "passed": self.passed, "reason": self.reason}


def read_screening(
    prometheus_url: str,
    scope: promql.Scope,
    shadow: str,
    window: str,
    at: float,
    *,
    bound: float,
    minimum_rows: int,
) -> Screening:
    """The shadow's compared and disagreeing rows over `window` before `at`."""
    only = scope.only(shadow)

    def count(metric: str) -> int:
        values = query_by_predictor(prometheus_url, promql.counted(only, metric, window), at)
        return round(values.get(shadow, 0.0))

    return Screening(
        shadow=shadow,
        compared=count(promql.SHADOW_COMPARED_TOTAL),
        disagreeing=count(promql.SHADOW_DISAGREEING_TOTAL),
        bound=bound,
        minimum_rows=minimum_rows,
    )

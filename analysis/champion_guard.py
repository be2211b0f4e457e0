"""The champion guard: after a rollout has ended, the champion is held to the baseline recorded
when it was promoted (its own error ratio, p95 latency and feedback success rate then).

Pure judgement on counts (`PredictorCounts`, as the A/B analysis reads them from Prometheus):
no Pulumi, no registry. `stacks.guard` reads the counts and the baseline and acts on a breach.
A window with too little traffic or feedback judges nothing it cannot support: below
`min_requests` nothing is judged, below `min_feedback` accuracy is not.
"""

from dataclasses import asdict, dataclass

from analysis.evidence import PredictorCounts


@dataclass(frozen=True)
class Baseline:
    """What the champion showed when it was promoted (from the rollout's last look)."""

    error_ratio: float
    p95_latency_seconds: float | None
    success_rate: float | None

    @classmethod
    def of(cls, counts: PredictorCounts) -> "Baseline":
        return cls(
            error_ratio=counts.errors / counts.requests if counts.requests else 0.0,
            p95_latency_seconds=counts.p95_latency_seconds,
            success_rate=counts.reward / counts.feedback if counts.feedback else None,
        )

    @classmethod
    def from_dict(cls, recorded: dict) -> "Baseline":
        return cls(
            **{
                key: recorded.get(key)
                for key in ("error_ratio", "p95_latency_seconds", "success_rate")
            }
        )

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GuardPolicy:
    """How far the champion may fall from its baseline before it is rolled back."""

    error_ratio_increase: float = 0.01
    """Absolute rise of the 5xx ratio allowed (0.01 = one point)."""
    latency_tolerance: float = 0.5
    """The p95 may exceed the baseline's by this fraction."""
    accuracy_drop: float = 0.05
    """Absolute fall of the feedback success rate allowed."""
    min_requests: int = 100
    min_feedback: int = 50


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GuardVerdict:
    """The checks that could be judged on this window; `breached` when any failed."""

    checks: list[Check]
    judged: bool
    reason: str

    @property
    def breached(self) -> bool:
        return any(not check.passed for check in self.checks)

    @property
    def breaches(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.passed]

    def as_dict(self) -> dict:
        return {
            "checks": [asdict(c) for c in self.checks],
            "judged": self.judged,
            "breached": self.breached,
            "reason": self.reason,
        }


def judge(baseline: Baseline, observed: PredictorCounts, policy: GuardPolicy) -> GuardVerdict:
    """Hold `observed` (the champion over the guard's window) to `baseline`."""
    if observed.requests < policy.min_requests:
        return GuardVerdict(
            [],
            False,
            f"{observed.requests} requests in the window, fewer than "
            f"the {policy.min_requests} the guard judges on",
        )
    ratio = observed.errors / observed.requests
    limit = baseline.error_ratio + policy.error_ratio_increase
    checks = [
        Check(
            "error_ratio",
            ratio <= limit,
            f"{ratio:.2%} of {observed.requests} requests failed, limit {limit:.2%} "
            f"(baseline {baseline.error_ratio:.2%})",
        )
    ]
    if baseline.p95_latency_seconds is not None and observed.p95_latency_seconds is not None:
        limit = baseline.p95_latency_seconds * (1 + policy.latency_tolerance)
        checks.append(
            Check(
                "p95_latency",
                observed.p95_latency_seconds <= limit,
                f"{observed.p95_latency_seconds:.4g}s, limit {limit:.4g}s (baseline "
                f"{baseline.p95_latency_seconds:.4g}s)",
            )
        )
    if baseline.success_rate is not None and observed.feedback >= max(1, policy.min_feedback):
        rate = observed.reward / observed.feedback
        limit = baseline.success_rate - policy.accuracy_drop
        checks.append(
            Check(
                "accuracy",
                rate >= limit,
                f"feedback success {rate:.2%} over {observed.feedback} feedbacks, "
                f"floor {limit:.2%} (baseline {baseline.success_rate:.2%})",
            )
        )
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.passed]
    reason = "; ".join(failed) or "within its baseline: " + "; ".join(c.detail for c in checks)
    return GuardVerdict(checks, True, reason)

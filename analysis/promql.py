"""PromQL over the metrics a Seldon deployment really emits, shared by alerts, dashboards and A/B.

Executor metric names and labels are those of the Seldon Core v1 Go executor
(`executor/api/metric`): histograms `seldon_api_executor_{server,client}_requests_seconds` with
`deployment_name`, `predictor_name`, `predictor_version`, `service`, `method`, `code` (HTTP status
as a string). Model-server metrics are those of docs/contracts.md plus the feedback counters; the
server sums its workers, and every query aggregates over a predictor's replicas. `namespace` is
the target label the Prometheus operator adds to scraped pods.
"""

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

EXECUTOR_SERVER_SECONDS = "seldon_api_executor_server_requests_seconds"
PREDICTIONS_TOTAL = "mlops_model_predictions_total"
INPUT_OUT_OF_RANGE_TOTAL = "mlops_model_input_out_of_range_total"
FEATURE_DRIFT_PSI = "mlops_model_feature_drift_psi"
FEEDBACK_REWARD_TOTAL = "seldon_api_model_feedback_reward_total"

EXECUTOR_METRICS = (EXECUTOR_SERVER_SECONDS,)
MODEL_SERVER_METRICS = (
    PREDICTIONS_TOTAL,
    INPUT_OUT_OF_RANGE_TOTAL,
    FEATURE_DRIFT_PSI,
    FEEDBACK_REWARD_TOTAL,
)

PREDICTOR = "predictor_name"

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION_SECONDS = (2**63 - 1) // 10**9
"""Prometheus keeps durations as Go `time.Duration` (int64 nanoseconds, ~292 years) and refuses
longer ones: "duration out of range" (prometheus/common `model/time.go`, `ParseDuration`), so
promtool refuses a rule file with `for: 20000w`."""


def _in_range(duration: str) -> str:
    if duration_seconds(duration) > MAX_DURATION_SECONDS:
        raise ValueError(
            f"duration {duration!r} is out of Prometheus' range (at most "
            f"{MAX_DURATION_SECONDS // _UNIT_SECONDS['w']}w, about 292 years)"
        )
    return duration


PromDuration = Annotated[
    str, StringConstraints(pattern=r"^[1-9][0-9]{0,17}(s|m|h|d|w)$"), AfterValidator(_in_range)
]
"""A Prometheus duration such as '30s', '5m' or '1h' (one unit; no zero; within range)."""


def duration_seconds(duration: str) -> int:
    """Seconds in a validated one-unit Prometheus duration."""
    return int(duration[:-1]) * _UNIT_SECONDS[duration[-1]]


@dataclass(frozen=True)
class Scope:
    """The series of one SeldonDeployment, optionally narrowed to some predictors."""

    namespace: str
    deployment: str
    predictors: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def only(self, *predictors: str) -> "Scope":
        """The same deployment restricted to the given predictors."""
        return Scope(self.namespace, self.deployment, predictors)

    def without(self, *predictors: str) -> "Scope":
        """The same deployment without the given predictors."""
        return Scope(self.namespace, self.deployment, exclude=predictors)

    def selector(self, metric: str, *extra: str) -> str:
        """`metric{...}` selecting this scope's series, plus the extra matchers given."""
        matchers = [f'namespace="{self.namespace}"', f'deployment_name="{self.deployment}"']
        if self.predictors:
            matchers.append(f'{PREDICTOR}=~"{"|".join(self.predictors)}"')
        if self.exclude:
            matchers.append(f'{PREDICTOR}!~"{"|".join(self.exclude)}"')
        return f"{metric}{{{', '.join([*matchers, *extra])}}}"


def _by(labels: tuple[str, ...]) -> str:
    return f"by ({', '.join(labels)}) " if labels else ""


def counter_sum(
    scope: Scope,
    metric: str,
    window: str,
    *matchers: str,
    by: tuple[str, ...] = (PREDICTOR,),
    func: str = "rate",
) -> str:
    """Per-second rate (or `increase`) of a counter over `window`, summed over workers and pods."""
    return f"sum {_by(by)}({func}({scope.selector(metric, *matchers)}[{window}]))"


def _prediction_requests(
    scope: Scope, window: str, *matchers: str, by: tuple[str, ...], func: str
) -> str:
    return counter_sum(
        scope,
        f"{EXECUTOR_SERVER_SECONDS}_count",
        window,
        'service="predictions"',
        *matchers,
        by=by,
        func=func,
    )


def request_rate(
    scope: Scope, window: str, by: tuple[str, ...] = (PREDICTOR,), func: str = "rate"
) -> str:
    """Prediction requests per second reaching the executor (`func="increase"`: a count)."""
    return _prediction_requests(scope, window, by=by, func=func)


def error_rate(
    scope: Scope, window: str, by: tuple[str, ...] = (PREDICTOR,), func: str = "rate"
) -> str:
    """Prediction requests per second answered with a 5xx status; 0 where none failed."""
    failed = _prediction_requests(scope, window, 'code=~"5.."', by=by, func=func)
    return f"({failed} or {request_rate(scope, window, by, func)} * 0)"


def error_ratio(scope: Scope, window: str, by: tuple[str, ...] = (PREDICTOR,)) -> str:
    """Share of prediction requests answered with a 5xx status."""
    return f"{error_rate(scope, window, by)} / {request_rate(scope, window, by)}"


def latency_quantile(
    scope: Scope, quantile: float, window: str, by: tuple[str, ...] = (PREDICTOR,)
) -> str:
    """Executor-measured prediction latency quantile in seconds."""
    buckets = counter_sum(
        scope,
        f"{EXECUTOR_SERVER_SECONDS}_bucket",
        window,
        'service="predictions"',
        by=(*by, "le"),
    )
    return f"histogram_quantile({quantile}, {buckets})"


def feedback_rewards(scope: Scope, window: str, func: str = "rate") -> str:
    """Sum of feedback rewards per second (`func="increase"`: over the window), per predictor."""
    return counter_sum(scope, FEEDBACK_REWARD_TOTAL, window, func=func)


def feedback_requests(scope: Scope, window: str, func: str = "rate") -> str:
    """Feedback requests answered 2xx by the executor, per predictor.

    The wrapper counts only non-zero rewards in `seldon_api_model_feedback_total`, so it cannot
    tell how many feedbacks there were; the executor's feedback requests can.
    """
    return counter_sum(
        scope,
        f"{EXECUTOR_SERVER_SECONDS}_count",
        window,
        'service="feedback"',
        'code=~"2.."',
        func=func,
    )


def feedback_success_rate(scope: Scope, window: str) -> str:
    """Mean feedback reward per feedback request (the success rate for 0/1 rewards)."""
    return f"{feedback_rewards(scope, window)} / {feedback_requests(scope, window)}"


def class_share(scope: Scope, window: str, by: tuple[str, ...] = (PREDICTOR,)) -> str:
    """Share of predicted rows per class (the prediction mix), per group in `by`."""
    per_class = counter_sum(scope, PREDICTIONS_TOTAL, window, by=(*by, "class"))
    total = counter_sum(scope, PREDICTIONS_TOTAL, window, by=by)
    return f"{per_class} / ignoring(class) group_left {total}"


def out_of_range_rate(scope: Scope, window: str) -> str:
    """Input values per second outside the training min/max, per predictor and feature."""
    return counter_sum(scope, INPUT_OUT_OF_RANGE_TOTAL, window, by=(PREDICTOR, "feature"))


def feature_drift(scope: Scope) -> str:
    """Latest PSI of each feature against the training reference, worst worker per predictor."""
    return f"max by ({PREDICTOR}, feature) ({scope.selector(FEATURE_DRIFT_PSI)})"

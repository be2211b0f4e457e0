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
# The model server's exact accounting (issue 20): every answered feedback whatever its reward,
# the requests it refused as bad input, and the rows its drift window holds.
FEEDBACK_TOTAL = "seldon_api_model_feedback_total"
REQUEST_ERRORS_TOTAL = "mlops_model_request_errors_total"
DRIFT_WINDOW_ROWS = "mlops_model_drift_window_rows"
# A shadow's comparison with the champion on the mirrored rows (serving/shadow_comparison.py).
SHADOW_COMPARED_TOTAL = "mlops_model_shadow_compared_rows_total"
SHADOW_DISAGREEING_TOTAL = "mlops_model_shadow_disagreeing_rows_total"

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
    scope: Scope, metric: str, window: str, *matchers: str, by: tuple[str, ...] = (PREDICTOR,)
) -> str:
    """Per-second rate of a counter over `window`, summed over workers and pods."""
    return f"sum {_by(by)}(rate({scope.selector(metric, *matchers)}[{window}]))"


def counted(
    scope: Scope, metric: str, window: str, *matchers: str, by: tuple[str, ...] = (PREDICTOR,)
) -> str:
    """Exact count of a counter over the `window` before the evaluation time, summed by `by`.

    Per series: its last value in the window minus its value at the window's start, or its last
    value when it was born inside the window. Unlike `increase()` nothing is extrapolated and a
    new series' first value is not lost; a decrease inside the window is for `decreases` to find.
    (Prometheus v2.42.0 promql/functions.go:92 counts `increase()` from the window's first
    sample, and :113-151 scale it to the window's edges.)
    """
    selector = scope.selector(metric, *matchers)
    last = f"last_over_time({selector}[{window}])"
    return f"sum {_by(by)}(({last} - {selector} offset {window}) or {last})"


def decreases(scope: Scope, metric: str, window: str, *matchers: str) -> str:
    """How many times a counter's series went down inside `window`, per predictor."""
    return f"sum by ({PREDICTOR}) (resets({scope.selector(metric, *matchers)}[{window}]))"


def series_count(scope: Scope, metric: str, window: str) -> str:
    """How many series of `metric` had a sample inside `window`, per predictor."""
    return f"count by ({PREDICTOR}) (last_over_time({scope.selector(metric)}[{window}]))"


EXECUTOR_COUNT = f"{EXECUTOR_SERVER_SECONDS}_count"
PREDICTIONS_SERVICE = 'service="predictions"'
FEEDBACK_SERVICE = 'service="feedback"'
SERVER_ERROR = 'code=~"5.."'
ANSWERED = 'code=~"2.."'


def request_rate(scope: Scope, window: str, by: tuple[str, ...] = (PREDICTOR,)) -> str:
    """Prediction requests per second reaching the executor."""
    return counter_sum(scope, EXECUTOR_COUNT, window, PREDICTIONS_SERVICE, by=by)


def error_rate(scope: Scope, window: str, by: tuple[str, ...] = (PREDICTOR,)) -> str:
    """Prediction requests per second answered with a 5xx status; 0 where none failed."""
    failed = counter_sum(scope, EXECUTOR_COUNT, window, PREDICTIONS_SERVICE, SERVER_ERROR, by=by)
    return f"({failed} or {request_rate(scope, window, by)} * 0)"


def error_ratio(scope: Scope, window: str, by: tuple[str, ...] = (PREDICTOR,)) -> str:
    """Share of prediction requests answered with a 5xx status."""
    return f"{error_rate(scope, window, by)} / {request_rate(scope, window, by)}"


BAD_REQUEST = 'code=~"4.."'


def bad_request_ratio(scope: Scope, window: str, by: tuple[str, ...] = (PREDICTOR,)) -> str:
    """Share of prediction requests answered 4xx (the caller's input refused: a schema break
    upstream turns every request into a 400); 0 where none were refused."""
    refused = counter_sum(scope, EXECUTOR_COUNT, window, PREDICTIONS_SERVICE, BAD_REQUEST, by=by)
    total = request_rate(scope, window, by)
    return f"({refused} or {total} * 0) / {total}"


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


def feedback_rewards(scope: Scope, window: str) -> str:
    """Sum of feedback rewards per second, per predictor."""
    return counter_sum(scope, FEEDBACK_REWARD_TOTAL, window)


def feedback_requests(scope: Scope, window: str) -> str:
    """Feedback requests per second answered 2xx by the executor, per predictor.

    Seldon's wrapper counts only non-zero rewards in `seldon_api_model_feedback_total`, so it
    cannot tell how many feedbacks there were; the executor's feedback requests can.
    """
    return counter_sum(scope, EXECUTOR_COUNT, window, FEEDBACK_SERVICE, ANSWERED)


def feedback_success_rate(scope: Scope, window: str) -> str:
    """Mean feedback reward per feedback request (the success rate for 0/1 rewards)."""
    return f"{feedback_rewards(scope, window)} / {feedback_requests(scope, window)}"


def feedback_count(scope: Scope, window: str) -> str:
    """Feedback requests answered 2xx in `window`, per predictor (exact, `counted`)."""
    return counted(scope, EXECUTOR_COUNT, window, FEEDBACK_SERVICE, ANSWERED)


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

"""Evidence from Prometheus: the same cumulative counts per predictor as an evidence file's look.

Counts are exact: per series, its last value up to the look minus its value at the experiment's
start (`promql.counted`), summed per predictor; `increase()` would extrapolate and drop a new
series' first value. Requests, 5xx answers and latency are the Seldon executor's; feedbacks and
the reward sum are the model server's, both from the same scrape of the same target. The
executor and the model server are scraped at different moments, so under live traffic their
counts at the window's edges differ by what arrived in between: a success rate from the
executor's feedbacks and the server's rewards could exceed 1 with nothing lost. Evidence that
honest counters could not give is refused (`analysis.consistency`): a counter series that went
down, a reward sum beyond what its feedbacks can carry, or an arm the executor says answered
predictions whose model server has no prediction series, or answered feedbacks and has no reward
series.
"""

import math
from datetime import UTC, datetime

import requests

from analysis import promql
from analysis.consistency import check_looks
from analysis.looks import Look, PredictorCounts
from common.errors import LifecycleError

QUERY_TIMEOUT_S = 30
COUNTERS = {
    "prediction requests": (promql.EXECUTOR_COUNT, promql.PREDICTIONS_SERVICE),
    "feedback requests": (promql.EXECUTOR_COUNT, promql.FEEDBACK_SERVICE),
    "predicted rows": (promql.PREDICTIONS_TOTAL,),
    "reward sum": (promql.FEEDBACK_REWARD_TOTAL,),
    "model-server feedbacks": (promql.FEEDBACK_TOTAL,),
}
"""The counters a look rests on, with the matchers that select them: none may go down."""


class PrometheusQueryError(LifecycleError):
    """Prometheus could not be reached or refused a query."""


def read_look(
    prometheus_url: str,
    scope: promql.Scope,
    since: float,
    at: float,
    shadows: tuple[str, ...] = (),
) -> Look:
    """Cumulative counts per predictor of `scope` from `since` to `at` (Unix seconds)."""
    if at <= since:
        raise LifecycleError(
            f"the look at {_iso(at)} is not after the experiment start {_iso(since)}"
        )
    window = f"{math.ceil(at - since)}s"
    client = _Client(prometheus_url, at)

    def count(metric: str, *matchers: str) -> dict[str, float]:
        return client.by_predictor(promql.counted(scope, metric, window, *matchers))

    executor, predictions = promql.EXECUTOR_COUNT, promql.PREDICTIONS_SERVICE
    requests_ = count(executor, predictions)
    answered = count(executor, predictions, promql.ANSWERED)
    errors = count(executor, predictions, promql.SERVER_ERROR)
    answered_feedback = count(executor, promql.FEEDBACK_SERVICE, promql.ANSWERED)
    feedback = count(promql.FEEDBACK_TOTAL)
    rewards = count(promql.FEEDBACK_REWARD_TOTAL)
    latency = client.by_predictor(promql.latency_quantile(scope, 0.95, window))
    names = scope.predictors or tuple(sorted({*requests_, *answered_feedback}))
    problems = _decreases(client, scope, window) + _missing_series(
        client, scope, window, {n: answered.get(n, 0.0) for n in names},
        {n: answered_feedback.get(n, 0.0) for n in names},
    )  # fmt: skip
    look = Look(
        at=datetime.fromtimestamp(at, UTC),
        predictors={
            name: PredictorCounts(
                requests=round(requests_.get(name, 0.0)),
                errors=round(errors.get(name, 0.0)),
                feedback=round(feedback.get(name, 0.0)),
                reward=rewards.get(name, 0.0),
                p95_latency_seconds=latency.get(name),
                shadow=name in shadows,
            )
            for name in names
        },
    )
    check_looks([look], f"Prometheus at {prometheus_url}", problems)
    return look


def _decreases(client: "_Client", scope: promql.Scope, window: str) -> list[str]:
    """A counter series that went down: a lost update, or a restart that lost acknowledged
    counts; either way the counts since the start are not what was served."""
    problems = []
    for what, (metric, *matchers) in COUNTERS.items():
        drops = client.by_predictor(promql.decreases(scope, metric, window, *matchers))
        problems += [
            f"arm {name!r} {what} ({metric}): a series went down {drops[name]:g} time(s) in "
            f"the last {window}; counters only go up, so counts since the start are lost"
            for name in sorted(drops)
            if drops[name]
        ]
    return problems


def _missing_series(
    client: "_Client",
    scope: promql.Scope,
    window: str,
    answered: dict[str, float],
    feedback: dict[str, float],
) -> list[str]:
    """Arms whose answers the executor counted but whose model server left no series."""
    problems = []
    for counted, metric, what in (
        (answered, promql.PREDICTIONS_TOTAL, "predictions answered 2xx"),
        (feedback, promql.FEEDBACK_REWARD_TOTAL, "feedbacks answered 2xx"),
    ):
        present = client.by_predictor(promql.series_count(scope, metric, window))
        problems += [
            f"arm {name!r}: the executor counted {value:g} {what} in the last {window} but "
            f"there is no {metric} series for it; is its model server scraped?"
            for name, value in sorted(counted.items())
            if value and name not in present
        ]
    return problems


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def query_by_predictor(prometheus_url: str, query: str, at: float) -> dict[str, float]:
    """Value per `predictor_name` of an instant vector `query` evaluated at `at`."""
    return _Client(prometheus_url, at).by_predictor(query)


class _Client:
    """Instant queries against one Prometheus at one evaluation time."""

    def __init__(self, url: str, at: float) -> None:
        self.endpoint = url.rstrip("/") + "/api/v1/query"
        self.at = at

    def by_predictor(self, query: str) -> dict[str, float]:
        """Value per `predictor_name` of an instant vector query; NaN results are left out."""
        params = {"query": query, "time": str(self.at)}
        try:
            response = requests.get(self.endpoint, params=params, timeout=QUERY_TIMEOUT_S)
        except requests.RequestException as error:
            raise PrometheusQueryError(
                f"cannot reach Prometheus at {self.endpoint}: {error}; expected the base URL of "
                "a Prometheus server, e.g. http://localhost:9090"
            ) from None
        body = _json(response, self.endpoint)
        if body.get("status") != "success":
            raise PrometheusQueryError(
                f"Prometheus refused the query ({body.get('errorType')}: {body.get('error')}): "
                f"{query}"
            )
        values = {}
        for sample in body["data"]["result"]:
            value = float(sample["value"][1])
            if not math.isnan(value):
                values[sample["metric"].get(promql.PREDICTOR, "")] = value
        return values


def _json(response: requests.Response, endpoint: str) -> dict:
    try:
        return response.json()
    except ValueError:
        raise PrometheusQueryError(
            f"{endpoint} answered HTTP {response.status_code} without JSON; is it Prometheus?"
        ) from None

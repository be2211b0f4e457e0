"""Evidence from Prometheus: the same cumulative counts per predictor as an evidence file's look.

Counts are `increase()` of the Seldon executor's counters from the experiment's start to the
look, so the decision rule sees what it would see in a recorded file. Queries come from
`analysis.promql`, the builders the dashboards and alerts use.
"""

import math
from datetime import UTC, datetime

import requests

from analysis import promql
from analysis.evidence import Look, PredictorCounts
from model.errors import LifecycleError

QUERY_TIMEOUT_S = 30


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
    requests_ = client.by_predictor(promql.request_rate(scope, window, func="increase"))
    errors = client.by_predictor(promql.error_rate(scope, window, func="increase"))
    latency = client.by_predictor(promql.latency_quantile(scope, 0.95, window))
    feedback = client.by_predictor(promql.feedback_requests(scope, window, func="increase"))
    rewards = client.by_predictor(promql.feedback_rewards(scope, window, func="increase"))
    names = scope.predictors or tuple(sorted({*requests_, *feedback}))
    return Look(
        at=datetime.fromtimestamp(at, UTC),
        predictors={
            name: PredictorCounts(
                requests=round(requests_.get(name, 0.0)),
                errors=min(round(errors.get(name, 0.0)), round(requests_.get(name, 0.0))),
                feedback=round(feedback.get(name, 0.0)),
                reward=min(rewards.get(name, 0.0), round(feedback.get(name, 0.0))),
                p95_latency_seconds=latency.get(name),
                shadow=name in shadows,
            )
            for name in names
        },
    )


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


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

"""What Prometheus knows about each predictor over the test window: traffic, errors, latency,
feedback. Queries come from the monitoring package, so the A/B test reads what dashboards show."""

import math
from dataclasses import dataclass

import requests

from infra.model_monitoring import promql
from model.errors import LifecycleError

QUERY_TIMEOUT_S = 30


class PrometheusQueryError(LifecycleError):
    """Prometheus could not be reached or refused a query."""


@dataclass(frozen=True)
class PredictorEvidence:
    """Counts over the window for one predictor (zero where Prometheus has no series)."""

    predictor: str
    requests: int
    errors: int
    p95_latency_seconds: float | None
    feedback_requests: int
    feedback_reward: float


def read_evidence(
    prometheus_url: str,
    scope: promql.Scope,
    window: str,
    at: float | None = None,
) -> dict[str, PredictorEvidence]:
    """Evidence for every predictor of `scope` over the `window` ending at `at` (default now)."""
    client = _Client(prometheus_url, at)
    requests_ = client.by_predictor(promql.request_rate(scope, window, func="increase"))
    errors = client.by_predictor(promql.error_rate(scope, window, func="increase"))
    latency = client.by_predictor(promql.latency_quantile(scope, 0.95, window))
    feedback = client.by_predictor(promql.feedback_requests(scope, window, func="increase"))
    rewards = client.by_predictor(promql.feedback_rewards(scope, window, func="increase"))
    return {
        name: PredictorEvidence(
            predictor=name,
            requests=round(requests_.get(name, 0.0)),
            errors=round(errors.get(name, 0.0)),
            p95_latency_seconds=latency.get(name),
            feedback_requests=round(feedback.get(name, 0.0)),
            feedback_reward=rewards.get(name, 0.0),
        )
        for name in scope.predictors
    }


class _Client:
    """Instant queries against one Prometheus at one evaluation time."""

    def __init__(self, url: str, at: float | None) -> None:
        self.endpoint = url.rstrip("/") + "/api/v1/query"
        self.at = at

    def by_predictor(self, query: str) -> dict[str, float]:
        """Value per `predictor_name` of an instant vector query; NaN results are left out."""
        params = {"query": query, **({"time": str(self.at)} if self.at is not None else {})}
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

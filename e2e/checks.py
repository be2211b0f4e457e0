"""Judgements on what the cluster answered: pure functions over response bodies, so they are
tested without a cluster. Each returns the list of what is wrong (empty when all is well)."""

from collections import Counter
from collections.abc import Iterable

from e2e.expectations import Deployment

EXECUTOR_REQUESTS = "seldon_api_executor_server_requests_seconds_count"
"""Executor histogram count, by `predictor_name` (executor/api/metric/constants.go@v1.17.1)."""
MODEL_PREDICTIONS = "mlops_model_predictions_total"
"""The model server's own counter (serving/accounting.py)."""
PREDICTOR_TAGS = ("predictor", "predictor_name")
"""meta.tags keys that may name the predictor that answered (docs/contracts.md, "Serving
metrics": `predictor` is the server's PREDICTOR_ID)."""


def who_answered(response: dict) -> str:
    """The predictor (else model version) a Seldon response says answered it."""
    tags = (response.get("meta") or {}).get("tags") or {}
    for key in PREDICTOR_TAGS:
        if tags.get(key):
            return str(tags[key])
    if tags.get("model_version"):
        return f"version {tags['model_version']}"
    raise ValueError(f"the response carries no meta.tags naming who answered: {response!r}")


def split_problems(answers: Iterable[str], deployment: Deployment) -> list[str]:
    """Both live predictors must have answered when they are told apart by name."""
    seen = Counter(answers)
    named = [p for p in deployment.live if p in seen]
    if len(deployment.live) > 1 and named and len(named) < len(deployment.live):
        missing = sorted(set(deployment.live) - set(named))
        return [f"{deployment.name}: no answer from predictor(s) {', '.join(missing)} ({seen})"]
    if not seen:
        return [f"{deployment.name}: no prediction answered"]
    return []


def series_by_predictor(query_result: dict) -> dict[str, float]:
    """predictor_name -> value of an instant-vector answer of Prometheus' /api/v1/query."""
    if query_result.get("status") != "success":
        raise ValueError(f"Prometheus query failed: {query_result!r}")
    found: dict[str, float] = {}
    for sample in query_result["data"]["result"]:
        name = sample["metric"].get("predictor_name", "")
        found[name] = found.get(name, 0.0) + float(sample["value"][1])
    return found


def metric_problems(
    metric: str, values: dict[str, float], deployment: Deployment, predictors: Iterable[str]
) -> list[str]:
    """Each of `predictors` has a non-zero series of `metric` (the shadow too: it receives the
    mirrored requests)."""
    return [
        f"{deployment.namespace}/{deployment.name}: no {metric} > 0 for predictor '{p}'"
        f" (found {values})"
        for p in predictors
        if values.get(p, 0.0) <= 0
    ]


def rule_problems(rules_result: dict, groups: Iterable[str]) -> list[str]:
    """The platform's rule groups are loaded (Prometheus' /api/v1/rules)."""
    loaded = {group["name"] for group in rules_result.get("data", {}).get("groups", [])}
    return [
        f"rule group '{g}' is not loaded (loaded: {sorted(loaded)})"
        for g in groups
        if g not in loaded
    ]


def dashboard_problems(search_result: list[dict], titles: Iterable[str]) -> list[str]:
    """The dashboards are provisioned in Grafana (its /api/search answer)."""
    provisioned = {item.get("title") for item in search_result if item.get("type") == "dash-db"}
    return [f"dashboard '{t}' is not in Grafana" for t in titles if t not in provisioned]


def bad_request_problems(status: int, body: str) -> list[str]:
    """A malformed prediction is a 400 with Seldon's status body, never a 5xx."""
    if status != 400:
        return [f"a bad request was answered {status}, expected 400: {body[:300]}"]
    return []

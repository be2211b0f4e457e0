"""Contract: a real Prometheus scrapes real model-server processes (`python -m serving`) of two
deployments (iris: champion, challenger, shadow in `seldon`; wine: champion in `models`) started
as the image starts them with the operator's env; after traffic every dashboard query (variables
set to each deployment) and alert expression over model-server metrics returns series of that
deployment only.

Prometheus scrapes each server's metrics port at `/prometheus` with the target labels the
PodMonitor gives pods (`namespace`, `pod`, `container`). Executor queries are covered by the
promtool fixtures in test_promtool.py (the Go executor cannot run here).
"""

import json
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sklearn.datasets import load_iris

from analysis import promql
from infra.model_monitoring.podmonitor import METRICS_PATH
from infra.model_monitoring.rules import alert_rules
from localrun.server_process import ModelServerProcess
from tests.monitoring.dashboard_queries import deployment_queries
from tests.monitoring.deployment_under_test import DEPLOYMENTS, IRIS, DeploymentUnderTest
from tests.monitoring.prometheus_process import query, running_prometheus

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
DRIFTED_FEATURE = "petal_length"
SCRAPE_WAIT_S = 60
WARM_UP_REQUESTS = 6
REQUESTS_PER_PREDICTOR = 24
ROWS_PER_REQUEST = 5


def _operator_env(deployment: str, predictor: str) -> dict[str, str]:
    return {
        "SELDON_DEPLOYMENT_ID": deployment,
        "PREDICTOR_ID": predictor,
        "PREDICTIVE_UNIT_ID": "model",
        "PREDICTOR_LABELS": json.dumps({"version": predictor}),
        "PREDICTIVE_UNIT_METRICS_ENDPOINT": METRICS_PATH,
        "DRIFT_MIN_ROWS": "10",
        "SERVER_WORKERS": "1",
    }


@pytest.fixture(scope="module")
def model_servers(trained_model):
    """One running model server per (deployment, predictor) under test."""
    servers = {
        (d.name, p.name): ModelServerProcess(
            trained_model["local_model_dir"], env=_operator_env(d.name, p.name)
        )
        for d in DEPLOYMENTS
        for p in d.predictors
    }
    try:
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(ModelServerProcess.start, servers.values()))
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def prometheus(prometheus_binary, model_servers, tmp_path_factory):
    """A Prometheus scraping every model server as each deployment's PodMonitor would."""
    scrape_configs = [
        {
            "job_name": f"{d.namespace}/{d.name}-seldon-pods",
            "metrics_path": METRICS_PATH,
            "static_configs": [
                {
                    "targets": [f"127.0.0.1:{model_servers[d.name, p.name].metrics_port}"],
                    "labels": {
                        "namespace": d.namespace,
                        "pod": f"{d.name}-{p.name}-0",
                        "container": "model",
                    },
                }
                for p in d.predictors
            ],
        }
        for d in DEPLOYMENTS
    ]
    workdir = tmp_path_factory.mktemp("contract-prometheus")
    with running_prometheus(prometheus_binary, workdir, scrape_configs) as url:
        yield url


def _rows(drifted: bool) -> list[list[float]]:
    rows = load_iris().data.tolist()
    if drifted:
        column = FEATURES.index(DRIFTED_FEATURE)
        rows = [[v + 5.0 if i == column else v for i, v in enumerate(row)] for row in rows]
    return rows


def _predict(server: ModelServerProcess, rows: list[list[float]]) -> None:
    answer = requests.post(
        f"{server.url}/api/v1.0/predictions",
        json={"data": {"names": FEATURES, "ndarray": rows}},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def traffic(model_servers, prometheus):
    """Predictions to every predictor (drifted inputs to the challenger) and 0/1 feedback.

    A first round creates the series; the main round starts once Prometheus has scraped them, so
    rate() sees the main round's increase (a counter's first sample is only a baseline). One
    gunicorn worker per server makes sure the first round reached the worker that serves the
    main round; the queries aggregate `worker_id` all the same.
    """
    rows = {key: _rows(drifted=key == (IRIS.name, "challenger")) for key in model_servers}
    for name, server in model_servers.items():
        for index in range(WARM_UP_REQUESTS):
            _predict(server, rows[name][index : index + 1])
    _wait_for_series(
        prometheus,
        [
            (
                f"series of {deployment}/{predictor}",
                f'count({promql.PREDICTIONS_TOTAL}{{deployment_name="{deployment}", '
                f'predictor_name="{predictor}"}})',
            )
            for deployment, predictor in model_servers
        ],
    )
    for name, server in model_servers.items():
        for index in range(REQUESTS_PER_PREDICTOR):
            _predict(server, rows[name][index * ROWS_PER_REQUEST : (index + 1) * ROWS_PER_REQUEST])
        for reward in (1, 0, 1):
            answer = requests.post(
                f"{server.url}/api/v1.0/feedback",
                json={"request": {"data": {"ndarray": [rows[name][0]]}}, "reward": reward},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
    return prometheus


def _model_server_queries(
    config, deployment: DeploymentUnderTest, with_alerts: bool = True
) -> list[tuple[str, str]]:
    """(where, expr) of every dashboard target and alert over model-server metrics only."""
    targets = [
        (f"{deployment.name} dashboard {where}", expr)
        for where, expr in deployment_queries(config, deployment)
    ]
    alerts = [
        (f"{deployment.name} alert {rule['alert']}", rule["expr"])
        for rule in alert_rules(config, **deployment.target)
        if with_alerts
    ]
    return [
        (where, expr)
        for where, expr in targets + alerts
        if not any(metric in expr for metric in promql.EXECUTOR_METRICS)
    ]


def _wait_for_series(url: str, queries: list[tuple[str, str]]) -> dict[str, list[dict]]:
    """Results of every query once each returns a series with a number (not NaN)."""
    deadline = time.monotonic() + SCRAPE_WAIT_S
    while True:
        results = {expr: query(url, expr) for _, expr in queries}
        empty = [where for where, expr in queries if not _has_number(results[expr])]
        if not empty:
            return results
        if time.monotonic() > deadline:
            pytest.fail(f"no series after {SCRAPE_WAIT_S}s of scraping for: {empty}")
        time.sleep(1)


def _has_number(result: list[dict]) -> bool:
    return any(not math.isnan(float(sample["value"][1])) for sample in result)


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d.name)
def test_every_model_server_query_returns_series_of_its_deployment_only(
    traffic, monitoring_config, deployment
):
    # Only iris's challenger gets drifted inputs: wine's drift alert rightly returns nothing.
    queries = _model_server_queries(monitoring_config, deployment, with_alerts=deployment is IRIS)
    assert len(queries) >= 3
    results = _wait_for_series(traffic, queries)
    own = {p.name for p in deployment.predictors}
    for where, expr in queries:
        seen = {s["metric"].get("predictor_name") for s in results[expr]} - {None}
        assert seen <= own, f"{where} returns predictors of another deployment: {seen - own}"


def test_overlapping_predictor_names_are_told_apart_by_deployment(traffic):
    """Both deployments have a `champion`; each deployment's selector counts its own rows only:
    the rows sent to that server, while all `champion` series together hold both."""
    sent = WARM_UP_REQUESTS + REQUESTS_PER_PREDICTOR * ROWS_PER_REQUEST
    scopes = {d.name: promql.Scope(d.namespace, d.name).only("champion") for d in DEPLOYMENTS}
    queries = [
        (name, f"sum({scope.selector(promql.PREDICTIONS_TOTAL)})") for name, scope in scopes.items()
    ]
    everywhere = ("all", f'sum({promql.PREDICTIONS_TOTAL}{{predictor_name="champion"}})')
    deadline = time.monotonic() + SCRAPE_WAIT_S
    while True:
        results = _wait_for_series(traffic, [*queries, everywhere])
        totals = {
            where: float(results[expr][0]["value"][1]) for where, expr in [*queries, everywhere]
        }
        if totals == {"iris": sent, "wine": sent, "all": 2 * sent} or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert totals == {"iris": sent, "wine": sent, "all": 2 * sent}


def test_series_carry_the_predictor_and_aggregate_workers(traffic, monitoring_config):
    scope = promql.Scope(IRIS.namespace, IRIS.name)
    share = promql.class_share(scope, monitoring_config.rate_window)
    drift = promql.feature_drift(scope)
    out_of_range = promql.out_of_range_rate(scope, monitoring_config.rate_window)
    results = _wait_for_series(traffic, [("share", share), ("drift", drift), ("oor", out_of_range)])
    predictors = {sample["metric"]["predictor_name"] for sample in results[share]}
    assert predictors == {p.name for p in IRIS.predictors}
    for predictor in predictors:
        total = sum(
            float(s["value"][1])
            for s in results[share]
            if s["metric"]["predictor_name"] == predictor
        )
        assert total == pytest.approx(1.0)
    assert all("worker_id" not in sample["metric"] for sample in results[drift])
    psi = {
        (s["metric"]["predictor_name"], s["metric"]["feature"]): float(s["value"][1])
        for s in results[drift]
    }
    assert psi[("challenger", DRIFTED_FEATURE)] > monitoring_config.drift_psi_threshold
    assert psi[("champion", DRIFTED_FEATURE)] < monitoring_config.drift_psi_threshold
    oor = {
        (s["metric"]["predictor_name"], s["metric"]["feature"]): float(s["value"][1])
        for s in results[out_of_range]
    }
    assert oor[("challenger", DRIFTED_FEATURE)] > 10 * oor[("champion", DRIFTED_FEATURE)]


def test_drift_alert_expression_selects_the_drifted_predictor(traffic, monitoring_config):
    rule = next(
        r
        for r in alert_rules(monitoring_config, **IRIS.target)
        if r["alert"] == "ModelFeatureDrift"
    )
    firing = _wait_for_series(traffic, [("drift alert", rule["expr"])])[rule["expr"]]
    assert {(s["metric"]["predictor_name"], s["metric"]["feature"]) for s in firing} == {
        ("challenger", DRIFTED_FEATURE)
    }


def test_every_metric_name_in_queries_is_emitted_or_an_executor_metric(traffic, monitoring_config):
    _wait_for_series(traffic, _model_server_queries(monitoring_config, IRIS))
    emitted = set(
        requests.get(f"{traffic}/api/v1/label/__name__/values", timeout=30).json()["data"]
    )
    executor = {
        f"{name}_{suffix}" for name in promql.EXECUTOR_METRICS for suffix in ("bucket", "count")
    }
    expressions = [expr for _, expr in deployment_queries(monitoring_config, IRIS)]
    expressions += [rule["expr"] for rule in alert_rules(monitoring_config, **IRIS.target)]
    named = {name for expr in expressions for name in re.findall(r"([a-z_:][a-z0-9_:]*)\{", expr)}
    assert named - executor <= emitted, f"never emitted: {sorted(named - executor - emitted)}"
    assert named & executor, "executor metrics are covered by test_promtool.py"

"""The generated rules and executor queries, checked by promtool against hand-computed fixtures.

Fixture traffic (per minute): champion 60 requests answered 200 (plus 6 answered 400, which are
the client's fault), latency in (0.075, 0.1]; challenger 54 x 200 and 6 x 500, latency in
(0.75, 1]; shadow 30 x 200, latency in (0.25, 0.5]. Feedback: 10 answered requests each for
champion and challenger, rewards 8 and 9.
"""

import subprocess
from pathlib import Path

import pytest
import yaml
from dashboard_queries import deployment_queries
from deployment_under_test import DEPLOYMENT, IRIS, NAMESPACE, RUNBOOK_BASE_URL, TARGET, WINE
from promtool_series import executor_requests, wrapper_metric

from analysis import promql
from analysis.promql import FEEDBACK_REWARD_TOTAL as FEEDBACK_REWARD
from infra.model_monitoring.config import MonitoringConfig
from infra.model_monitoring.rules import prometheus_rule

WHERE = {"namespace": NAMESPACE, "deployment_name": DEPLOYMENT}


def _rule_groups(config: MonitoringConfig, target: dict = TARGET) -> list[dict]:
    return prometheus_rule(config, **target)["spec"]["groups"]


def _run_promtool(
    promtool: str,
    tmp_path: Path,
    config: MonitoringConfig,
    tests: list,
    groups: list[dict] | None = None,
) -> str:
    """promtool test rules on `groups` (default: the iris deployment's under `config`)."""
    groups = _rule_groups(config) if groups is None else groups
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    suite = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_promtool_check_rules_accepts_generated_rules(promtool, tmp_path, monitoring_config):
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": _rule_groups(monitoring_config)}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


def _traffic() -> list[dict]:
    return [
        *executor_requests("champion", {"200": 60, "400": 6}, 0.1),
        *executor_requests("challenger", {"200": 54, "500": 6}, 1),
        *executor_requests("shadow", {"200": 30}, 0.5),
    ]


def _alert(name: str, predictor: str, summary: str, **labels: str) -> dict:
    severity = "critical" if name in ("ModelErrorRatioHigh", "ModelBadRequestSurge") else "warning"
    return {
        "exp_labels": {
            "alertname": name,
            "severity": severity,
            **WHERE,
            "predictor_name": predictor,
            **labels,
        },
        "exp_annotations": {
            "summary": summary,
            "runbook_url": f"{RUNBOOK_BASE_URL}#{name.lower()}",
        },
    }


def test_latency_and_error_alerts_fire_only_for_the_failing_predictor(
    promtool, tmp_path, monitoring_config
):
    latency = _alert(
        "ModelLatencySLOBreach",
        "challenger",
        "p95 latency of predictor challenger is 987.5ms, objective 0.5s",
    )
    errors = _alert(
        "ModelErrorRatioHigh",
        "challenger",
        "10% of predictions of predictor challenger fail with 5xx, threshold 5.0%",
    )
    tests = [
        {
            "interval": "1m",
            "input_series": _traffic(),
            "alert_rule_test": [
                {"eval_time": "5m", "alertname": "ModelLatencySLOBreach", "exp_alerts": []},
                {"eval_time": "15m", "alertname": "ModelLatencySLOBreach", "exp_alerts": [latency]},
                {"eval_time": "3m", "alertname": "ModelErrorRatioHigh", "exp_alerts": []},
                {"eval_time": "15m", "alertname": "ModelErrorRatioHigh", "exp_alerts": [errors]},
                {"eval_time": "30m", "alertname": "ModelPredictorNoTraffic", "exp_alerts": []},
            ],
        }
    ]
    _run_promtool(promtool, tmp_path, monitoring_config, tests)


def test_no_traffic_alert_names_the_starved_predictor_only_while_the_deployment_serves(
    promtool, tmp_path, monitoring_config
):
    starved = _alert(
        "ModelPredictorNoTraffic",
        "challenger",
        "predictor challenger should get 10% of the traffic but receives none while the "
        "deployment is serving",
    )
    serving = [
        *executor_requests("champion", {"200": 60}, 0.1),
        *executor_requests("challenger", {"200": 0}, 0.1),
        *executor_requests("shadow", {"200": 30}, 0.5),
    ]
    idle = executor_requests("champion", {"200": 0}, 0.1)
    tests = [
        {
            "interval": "1m",
            "input_series": serving,
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "ModelPredictorNoTraffic", "exp_alerts": []},
                {
                    "eval_time": "25m",
                    "alertname": "ModelPredictorNoTraffic",
                    "exp_alerts": [starved],
                },
            ],
        },
        {
            "interval": "1m",
            "input_series": idle,
            "alert_rule_test": [
                {"eval_time": "30m", "alertname": "ModelPredictorNoTraffic", "exp_alerts": []}
            ],
        },
    ]
    _run_promtool(promtool, tmp_path, monitoring_config, tests)


def test_drift_alert_needs_a_sustained_breach_and_takes_the_worst_worker(
    promtool, tmp_path, monitoring_config
):
    psi = "mlops_model_feature_drift_psi"
    series = [
        wrapper_metric(psi, "challenger", "101", "0.35x40", feature="petal_length"),
        wrapper_metric(psi, "challenger", "102", "0.1x40", feature="petal_length"),
        wrapper_metric(psi, "champion", "201", "0.35x20 0.05x20", feature="petal_length"),
        wrapper_metric(psi, "champion", "201", "0.05x40", feature="sepal_width"),
    ]
    drift = _alert(
        "ModelFeatureDrift",
        "challenger",
        "feature petal_length seen by predictor challenger has drifted: PSI 0.35 > 0.2",
        feature="petal_length",
    )
    tests = [
        {
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": "20m", "alertname": "ModelFeatureDrift", "exp_alerts": []},
                {"eval_time": "40m", "alertname": "ModelFeatureDrift", "exp_alerts": [drift]},
            ],
        }
    ]
    _run_promtool(promtool, tmp_path, monitoring_config, tests)


def test_thresholds_come_from_the_config(promtool, tmp_path):
    strict = MonitoringConfig(latency_slo_seconds=0.05, latency_for="1m")
    fast_champion = _alert(
        "ModelLatencySLOBreach",
        "champion",
        "p95 latency of predictor champion is 98.75ms, objective 0.05s",
    )
    slow_challenger = _alert(
        "ModelLatencySLOBreach",
        "challenger",
        "p95 latency of predictor challenger is 987.5ms, objective 0.05s",
    )
    slow_shadow = _alert(
        "ModelLatencySLOBreach",
        "shadow",
        "p95 latency of predictor shadow is 487.5ms, objective 0.05s",
    )
    tests = [
        {
            "interval": "1m",
            "input_series": _traffic(),
            "alert_rule_test": [
                {
                    "eval_time": "10m",
                    "alertname": "ModelLatencySLOBreach",
                    "exp_alerts": [fast_champion, slow_challenger, slow_shadow],
                }
            ],
        }
    ]
    _run_promtool(promtool, tmp_path, strict, tests)


def _interpolated(
    quantile: float, *, total: float, below: float, inside: float, low: float, high: float
) -> float:
    """histogram_quantile's linear interpolation inside the bucket (low, high]."""
    return low + (high - low) * ((quantile * total - below) / inside)


def _expected_executor_samples() -> dict[str, list[dict]]:
    """Every executor-backed query the dashboards may use, with its value on the fixture."""
    scope = promql.Scope(NAMESPACE, DEPLOYMENT)
    primary, shadow = scope.without("shadow"), scope.only("shadow")
    window = MonitoringConfig().rate_window
    per_predictor = {
        "champion": {"rate": 66 / 60, "errors": 0.0, 0.5: 0.0875, 0.95: 0.09875, 0.99: 0.09975},
        "challenger": {"rate": 1.0, "errors": 0.1, 0.5: 0.875, 0.95: 0.9875, 0.99: 0.9975},
        "shadow": {"rate": 0.5, "errors": 0.0, 0.5: 0.375, 0.95: 0.4875, 0.99: 0.4975},
    }
    success = {"champion": 0.8, "challenger": 0.9}

    def each(values: dict[str, float]) -> list[dict]:
        return [{"labels": f'{{predictor_name="{p}"}}', "value": v} for p, v in values.items()]

    def one(value: float) -> list[dict]:
        return [{"labels": "{}", "value": value}]

    expected = {
        promql.request_rate(scope, window): each({p: v["rate"] for p, v in per_predictor.items()}),
        promql.error_ratio(scope, window): each({p: v["errors"] for p, v in per_predictor.items()}),
        promql.request_rate(primary, window, by=()): one(66 / 60 + 1.0),
        promql.request_rate(shadow, window, by=()): one(0.5),
        promql.error_ratio(primary, window, by=()): one(6 / 126),
        promql.error_ratio(shadow, window, by=()): one(0.0),
        promql.latency_quantile(primary, 0.95, window, by=()): one(
            _interpolated(0.95, total=126, below=66, inside=60, low=0.75, high=1.0)
        ),
        promql.latency_quantile(shadow, 0.95, window, by=()): one(0.4875),
    }
    for q in (0.5, 0.95, 0.99):
        expected[promql.latency_quantile(scope, q, window)] = each(
            {p: v[q] for p, v in per_predictor.items()}
        )
    for predictor, values in per_predictor.items():
        only = scope.only(predictor)
        expected[promql.request_rate(only, window)] = each({predictor: values["rate"]})
        expected[promql.error_ratio(only, window)] = each({predictor: values["errors"]})
        for q in (0.5, 0.95, 0.99):
            expected[promql.latency_quantile(only, q, window)] = each({predictor: values[q]})
        if predictor in success:
            expected[promql.feedback_success_rate(only, window)] = each(
                {predictor: success[predictor]}
            )
    return expected


def _executor_targets(monitoring_config: MonitoringConfig) -> list[tuple[str, str]]:
    """Executor-backed dashboard queries with the variables set to iris, its live predictors
    side by side and `shadow` as the shadow."""
    return [
        (where, expr)
        for where, expr in deployment_queries(monitoring_config, IRIS)
        if any(metric in expr for metric in promql.EXECUTOR_METRICS)
    ]


def test_every_executor_dashboard_query_has_an_expected_value(monitoring_config):
    expected = _expected_executor_samples()
    targets = _executor_targets(monitoring_config)
    unchecked = [name for name, expr in targets if expr not in expected]
    assert not unchecked, f"dashboard queries without a promtool fixture: {unchecked}"


def test_executor_dashboard_queries_compute_the_fixture_values(
    promtool, tmp_path, monitoring_config
):
    expected = _expected_executor_samples()
    feedback = [
        *executor_requests("champion", {"200": 10}, 0.1, service="feedback"),
        *executor_requests("challenger", {"200": 10}, 0.1, service="feedback"),
        wrapper_metric(
            "seldon_api_model_feedback_reward_total", "champion", "1", "0+5x40", method="feedback"
        ),
        wrapper_metric(
            "seldon_api_model_feedback_reward_total", "champion", "2", "0+3x40", method="feedback"
        ),
        wrapper_metric(
            "seldon_api_model_feedback_reward_total", "challenger", "3", "0+9x40", method="feedback"
        ),
    ]
    queries = sorted({expr for _, expr in _executor_targets(monitoring_config)})
    tests = [
        {
            "interval": "1m",
            "input_series": [*_traffic(), *feedback],
            "promql_expr_test": [
                {"expr": expr, "eval_time": "20m", "exp_samples": expected[expr]}
                for expr in queries
            ],
        }
    ]
    output = _run_promtool(promtool, tmp_path, monitoring_config, tests)
    assert "SUCCESS" in output


@pytest.mark.parametrize("quantile", [0.5, 0.95, 0.99])
def test_latency_query_uses_executor_histogram_and_code_not_status(quantile):
    scope = promql.Scope(NAMESPACE, DEPLOYMENT)
    query = promql.latency_quantile(scope, quantile, "5m")
    assert "seldon_api_executor_server_requests_seconds_bucket" in query
    assert "status" not in promql.error_ratio(scope, "5m")
    assert 'code=~"5.."' in promql.error_ratio(scope, "5m")


def test_two_deployments_alert_on_their_own_series_with_their_own_thresholds(promtool, tmp_path):
    """iris (defaults, SLO 0.5 s) and wine (override: SLO 0.2 s) in one Prometheus. wine's
    champion answers in (0.25, 0.5] s: only wine's rule fires, for wine; iris's champion at
    0.1 s breaches neither, although both predictors are called `champion`."""
    wine_config = MonitoringConfig(latency_slo_seconds=0.2)
    groups = [*_rule_groups(MonitoringConfig()), *_rule_groups(wine_config, WINE.target)]
    wine_champion = _alert(
        "ModelLatencySLOBreach",
        "champion",
        "p95 latency of predictor champion is 487.5ms, objective 0.2s",
    )
    wine_champion["exp_labels"].update(namespace=WINE.namespace, deployment_name=WINE.name)
    series = [
        *executor_requests("champion", {"200": 60}, 0.1),
        *executor_requests("challenger", {"200": 6}, 0.1),
        *executor_requests("shadow", {"200": 15}, 0.1),
        *executor_requests(
            "champion", {"200": 30}, 0.5, deployment=WINE.name, namespace=WINE.namespace
        ),
    ]
    tests = [
        {
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {
                    "eval_time": "15m",
                    "alertname": "ModelLatencySLOBreach",
                    "exp_alerts": [wine_champion],
                },
                {"eval_time": "30m", "alertname": "ModelPredictorNoTraffic", "exp_alerts": []},
            ],
        }
    ]
    assert {group["name"] for group in groups} == {"mlops-seldon-iris", "mlops-models-wine"}
    _run_promtool(promtool, tmp_path, MonitoringConfig(), tests, groups)


def test_a_surge_of_400s_pages_for_the_predictor_whose_callers_broke(
    promtool, tmp_path, monitoring_config
):
    """A schema break upstream: the challenger's callers get 400 for 30 of every 50 requests
    (60 %); the champion's 6 in 66 (9 %) stay under the 20 % threshold."""
    surge = _alert(
        "ModelBadRequestSurge",
        "challenger",
        "60% of prediction requests to predictor challenger are refused as bad input (4xx), "
        "threshold 20.0%: did the callers' schema change?",
    )
    series = [
        *executor_requests("champion", {"200": 60, "400": 6}, 0.1),
        *executor_requests("challenger", {"200": 20, "400": 30}, 0.1),
    ]
    tests = [
        {
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "ModelBadRequestSurge", "exp_alerts": []},
                {"eval_time": "15m", "alertname": "ModelBadRequestSurge", "exp_alerts": [surge]},
            ],
        }
    ]
    _run_promtool(promtool, tmp_path, monitoring_config, tests)


def test_an_accuracy_drop_in_feedback_fires_for_that_predictor_once_enough_feedback_came(
    promtool, tmp_path
):
    """10 feedbacks a minute each; the champion's rewards fall from 9 to 5 a minute at minute 60
    (success 0.9 -> 0.5), the challenger's stay at 9. At minute 80 the champion's last 10
    minutes score 0.5 against 0.7667 over the last hour (40 min at 0.9, 20 at 0.5): a drop
    above 0.05 with 100 >= 50 feedbacks. The shadow gets no feedback and no rule."""
    config = MonitoringConfig(accuracy_window="10m", accuracy_baseline_window="1h")
    feedback = [
        *executor_requests("champion", {"200": 10}, 0.1, service="feedback", values="0+10x80"),
        *executor_requests("challenger", {"200": 10}, 0.1, service="feedback", values="0+10x80"),
    ]
    rewards = [
        wrapper_metric(FEEDBACK_REWARD, "champion", "1", "0+9x60 545+5x19"),
        wrapper_metric(FEEDBACK_REWARD, "challenger", "1", "0+9x80"),
    ]
    drop = _alert(
        "ModelAccuracyDrop",
        "champion",
        "feedback success rate of predictor champion over 10m is 50%, more than 0.05 below "
        "its 1h rate",
    )
    tests = [
        {
            "interval": "1m",
            "input_series": [*feedback, *rewards],
            "alert_rule_test": [
                {"eval_time": "50m", "alertname": "ModelAccuracyDrop", "exp_alerts": []},
                {"eval_time": "80m", "alertname": "ModelAccuracyDrop", "exp_alerts": [drop]},
            ],
        }
    ]
    _run_promtool(promtool, tmp_path, config, tests)

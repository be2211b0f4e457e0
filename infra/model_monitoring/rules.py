"""PrometheusRule for a Seldon deployment: latency SLO, server errors, refused input, missing
traffic, drift and an accuracy drop seen in feedback. Every alert links its runbook section of
docs/operations.md (`runbook_url`, the annotation Alertmanager receivers show)."""

from analysis import promql
from infra.model_monitoring.config import MonitoringConfig, PredictorTarget
from infra.model_monitoring.manifests import PROMETHEUS_RELEASE_LABELS, metadata

FEATURE_DRIFT_ALERT = "ModelFeatureDrift"
ACCURACY_DROP_ALERT = "ModelAccuracyDrop"
ERROR_RATIO_ALERT = "ModelErrorRatioHigh"
BAD_REQUEST_ALERT = "ModelBadRequestSurge"
"""Alert names other parts route on (the retrain trigger, infra/training/)."""


def runbook_anchor(alert: str) -> str:
    """The docs/operations.md anchor of an alert's runbook section (its `### <alert>` heading)."""
    return alert.lower()


def _alert(
    name: str, expr: str, duration: str, severity: str, summary: str, labels: dict[str, str]
) -> dict:
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity, **labels},
        "annotations": {"summary": summary},
    }


def _with_runbook(rule: dict, runbook_base_url: str) -> dict:
    url = f"{runbook_base_url}#{runbook_anchor(rule['alert'])}"
    return {**rule, "annotations": {**rule["annotations"], "runbook_url": url}}


def alert_rules(
    config: MonitoringConfig,
    *,
    deployment_name: str,
    namespace: str,
    predictors: list[PredictorTarget],
    runbook_base_url: str,
) -> list[dict]:
    """Alerting rules for one deployment, thresholds and windows from `config`; each links
    `<runbook_base_url>#<alert in lower case>` (docs/operations.md)."""
    scope = promql.Scope(namespace, deployment_name)
    window = config.rate_window
    where = {"namespace": namespace, "deployment_name": deployment_name}
    quantile_pct = round(config.latency_slo_quantile * 100, 3)
    rules = [
        _alert(
            "ModelLatencySLOBreach",
            f"{promql.latency_quantile(scope, config.latency_slo_quantile, window)}"
            f" > {config.latency_slo_seconds}",
            config.latency_for,
            "warning",
            f"p{quantile_pct:g} latency of predictor {{{{ $labels.predictor_name }}}} is "
            f"{{{{ $value | humanizeDuration }}}}, objective {config.latency_slo_seconds}s",
            where,
        ),
        _alert(
            ERROR_RATIO_ALERT,
            f"{promql.error_ratio(scope, window)} > {config.error_ratio_threshold}",
            config.error_ratio_for,
            "critical",
            "{{ $value | humanizePercentage }} of predictions of predictor "
            "{{ $labels.predictor_name }} fail with 5xx, threshold "
            f"{config.error_ratio_threshold:.1%}",
            where,
        ),
        _alert(
            BAD_REQUEST_ALERT,
            f"{promql.bad_request_ratio(scope, window)} > {config.bad_request_ratio_threshold}",
            config.bad_request_for,
            "critical",
            "{{ $value | humanizePercentage }} of prediction requests to predictor "
            "{{ $labels.predictor_name }} are refused as bad input (4xx), threshold "
            f"{config.bad_request_ratio_threshold:.1%}: did the callers' schema change?",
            where,
        ),
    ]
    deployment_traffic = promql.request_rate(scope, window, by=())
    for predictor in predictors:
        if predictor.traffic == 0:
            continue
        own_traffic = promql.request_rate(scope.only(predictor.name), window, by=())
        rules.append(
            _alert(
                "ModelPredictorNoTraffic",
                f"({own_traffic} or vector(0)) == 0 and on() {deployment_traffic} > 0",
                config.no_traffic_for,
                "warning",
                f"predictor {predictor.name} should get {predictor.traffic}% of the traffic"
                f"{' mirrored' if predictor.shadow else ''} but receives none while the "
                "deployment is serving",
                {**where, promql.PREDICTOR: predictor.name},
            )
        )
    live = promql.Scope(namespace, deployment_name).without(
        *(p.name for p in predictors if p.shadow)
    )
    recent = promql.feedback_success_rate(live, config.accuracy_window)
    baseline = promql.feedback_success_rate(live, config.accuracy_baseline_window)
    enough = promql.feedback_count(live, config.accuracy_window)
    rules.append(
        _alert(
            ACCURACY_DROP_ALERT,
            f"({recent} < {baseline} - {config.accuracy_drop}) and on ({promql.PREDICTOR}) "
            f"({enough} >= {config.accuracy_min_feedback})",
            "0s",
            "warning",
            f"feedback success rate of predictor {{{{ $labels.predictor_name }}}} over "
            f"{config.accuracy_window} is {{{{ $value | humanizePercentage }}}}, more than "
            f"{config.accuracy_drop:g} below its {config.accuracy_baseline_window} rate",
            where,
        )
    )
    rules.append(
        _alert(
            FEATURE_DRIFT_ALERT,
            f"{promql.feature_drift(scope)} > {config.drift_psi_threshold}",
            config.drift_for,
            "warning",
            "feature {{ $labels.feature }} seen by predictor {{ $labels.predictor_name }} has "
            f'drifted: PSI {{{{ $value | printf "%.2f" }}}} > {config.drift_psi_threshold}',
            where,
        )
    )
    return [_with_runbook(rule, runbook_base_url) for rule in rules]


def prometheus_rule(
    config: MonitoringConfig,
    *,
    deployment_name: str,
    namespace: str,
    predictors: list[PredictorTarget],
    runbook_base_url: str,
) -> dict:
    """PrometheusRule object holding `alert_rules` in one group."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata(
            f"{deployment_name}-model-alerts", namespace, PROMETHEUS_RELEASE_LABELS
        ),
        "spec": {
            "groups": [
                {
                    "name": f"mlops-{namespace}-{deployment_name}",
                    "rules": alert_rules(
                        config,
                        deployment_name=deployment_name,
                        namespace=namespace,
                        predictors=predictors,
                        runbook_base_url=runbook_base_url,
                    ),
                }
            ]
        },
    }

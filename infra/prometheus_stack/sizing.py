"""The monitoring stack's workloads per sizing profile (production leaves room for Prometheus'
retention)."""

from dataclasses import dataclass

from infra.sizing import Profiles
from infra.workloads import resources


@dataclass(frozen=True)
class PrometheusStackSizing:
    prometheus: dict
    alertmanager: dict
    prometheus_operator: dict
    config_reloader: dict
    webhook_patch_job: dict
    grafana: dict
    grafana_sidecar: dict
    kube_state_metrics: dict
    node_exporter: dict


SIZING = Profiles(
    small=PrometheusStackSizing(
        prometheus=resources("100m", "384Mi", "1", "1Gi"),
        alertmanager=resources("25m", "64Mi", "200m", "128Mi"),
        prometheus_operator=resources("50m", "96Mi", "200m", "256Mi"),
        config_reloader=resources("10m", "32Mi", "100m", "64Mi"),
        webhook_patch_job=resources("10m", "32Mi", "100m", "64Mi"),
        grafana=resources("50m", "192Mi", "500m", "512Mi"),
        grafana_sidecar=resources("10m", "64Mi", "100m", "128Mi"),
        kube_state_metrics=resources("10m", "64Mi", "100m", "128Mi"),
        node_exporter=resources("10m", "32Mi", "100m", "64Mi"),
    ),
    ha=PrometheusStackSizing(
        prometheus=resources("500m", "2Gi", "2", "4Gi"),
        alertmanager=resources("50m", "128Mi", "500m", "256Mi"),
        prometheus_operator=resources("100m", "256Mi", "500m", "512Mi"),
        config_reloader=resources("10m", "50Mi", "200m", "128Mi"),
        webhook_patch_job=resources("10m", "32Mi", "100m", "64Mi"),
        grafana=resources("100m", "256Mi", "1", "1Gi"),
        grafana_sidecar=resources("20m", "96Mi", "200m", "256Mi"),
        kube_state_metrics=resources("20m", "128Mi", "200m", "256Mi"),
        node_exporter=resources("20m", "48Mi", "200m", "128Mi"),
    ),
)

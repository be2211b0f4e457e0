"""Stack keys and names of the monitoring stack (pydantic only)."""

from typing import Literal

from pydantic import Field

from infra.config_types import CamelModel, ChartVersion, MemoryQuantity

NAMESPACE = "monitoring"
PROMETHEUS_CHARTS = "https://prometheus-community.github.io/helm-charts"
RELEASE_NAME = "kube-prometheus-stack"
GRAFANA_ADMIN_SECRET = "grafana-admin"
UNREACHABLE_CONTROL_PLANE = ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy")
"""Chart components scraping control-plane endpoints a pod cannot reach (see the values)."""
ALERTMANAGER_CONFIG_LABELS = {"app.kubernetes.io/part-of": "mlops-platform"}
"""The label Alertmanager selects AlertmanagerConfigs by, in every namespace (the retrain routes
live in the deployments' namespaces, infra/training/)."""
GRAFANA_SEARCH_NAMESPACES = (NAMESPACE,)
"""Where Grafana's sidecar looks for dashboards: exactly the namespaces its Role covers."""


class PrometheusStackConfig(CamelModel):
    """Stack keys for the monitoring stack."""

    kube_prometheus_stack_version: ChartVersion = "77.10.0"
    prometheus_retention: str = Field(default="7d", pattern=r"^[0-9]+[hdwy]$")
    prometheus_storage_size: MemoryQuantity | Literal[""] = ""
    """Size of Prometheus' persistent volume; empty keeps its data on an emptyDir."""
PROMETHEUS_PODS = {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
"""Label the Prometheus Operator puts on Prometheus server pods (prometheus-operator v0.93.0
pkg/prometheus/server/statefulset_test.go)."""
GRAFANA_PODS = {"matchLabels": {"app.kubernetes.io/name": "grafana"}}
GRAFANA_PORT = 3000

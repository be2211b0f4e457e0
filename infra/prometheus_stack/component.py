"""kube-prometheus-stack: Prometheus, Alertmanager and Grafana, open to the platform's monitors."""

import pulumi
import pulumi_kubernetes as k8s

from infra.component import PlatformComponent
from infra.helm import pinned_release
from infra.prometheus_stack.config import (
    GRAFANA_ADMIN_SECRET,
    PROMETHEUS_CHARTS,
    RELEASE_NAME,
    PrometheusStackConfig,
)
from infra.prometheus_stack.config import NAMESPACE as MONITORING
from infra.prometheus_stack.sizing import PrometheusStackSizing
from infra.prometheus_stack.values import chart_values
from infra.secrets import credentials_secret, generated_password


class PrometheusStack(PlatformComponent):
    """The chart with selectors opened so every PodMonitor and PrometheusRule in the cluster is
    picked up (not only those carrying the release label), and Grafana's sidecar loading the
    ConfigMaps labelled `grafana_dashboard: "1"` in its own namespace, where the platform puts
    its dashboards, with namespaced RBAC. Grafana's admin password is generated."""

    release: k8s.helm.v3.Release
    grafana_admin_password: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: PrometheusStackConfig,
        *,
        storage_class: str | None,
        sizing: PrometheusStackSizing,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:monitoring:PrometheusStack", name, opts)
        self.grafana_admin_password = generated_password(
            "grafana-admin-password", self.child_opts()
        )
        admin = credentials_secret(
            GRAFANA_ADMIN_SECRET,
            namespace=MONITORING,
            data={"admin-user": "admin", "admin-password": self.grafana_admin_password},
            opts=self.child_opts(),
        )
        self.release = pinned_release(
            RELEASE_NAME,
            chart=RELEASE_NAME,
            version=config.kube_prometheus_stack_version,
            repository=PROMETHEUS_CHARTS,
            namespace=MONITORING,
            values=chart_values(config, sizing, storage_class),
            opts=self.child_opts(depends_on=[admin]),
        )
        self.register_outputs({"release": RELEASE_NAME})

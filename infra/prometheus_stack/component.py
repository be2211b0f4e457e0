"""kube-prometheus-stack: Prometheus, Alertmanager and Grafana, open to the platform's monitors."""

import pulumi
import pulumi_kubernetes as k8s

from infra.alerting.component import AlertReceivers
from infra.component import PlatformComponent
from infra.helm import pinned_release
from infra.prometheus_stack.config import (
    ALERTMANAGER_CONFIG_LABELS,
    GRAFANA_ADMIN_SECRET,
    GRAFANA_SEARCH_NAMESPACES,
    PROMETHEUS_CHARTS,
    RELEASE_NAME,
    UNREACHABLE_CONTROL_PLANE,
    PrometheusStackConfig,
)
from infra.prometheus_stack.config import NAMESPACE as MONITORING
from infra.prometheus_stack.sizing import PrometheusStackSizing
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
        alerting: AlertReceivers,
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
        prometheus_spec: dict = {
            "retention": config.prometheus_retention,
            "podMonitorSelectorNilUsesHelmValues": False,
            "serviceMonitorSelectorNilUsesHelmValues": False,
            "ruleSelectorNilUsesHelmValues": False,
            "probeSelectorNilUsesHelmValues": False,
            "resources": sizing.prometheus,
        }
        if config.prometheus_storage_size:
            claim: dict = {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": config.prometheus_storage_size}},
            }
            if storage_class:
                claim["storageClassName"] = storage_class
            prometheus_spec["storageSpec"] = {"volumeClaimTemplate": {"spec": claim}}
        self.release = pinned_release(
            RELEASE_NAME,
            chart="kube-prometheus-stack",
            version=config.kube_prometheus_stack_version,
            repository=PROMETHEUS_CHARTS,
            namespace=MONITORING,
            # Keys checked against charts/kube-prometheus-stack/values.yaml@kube-prometheus-stack-
            # 77.10.0 and its Grafana dependency, charts/grafana/values.yaml@grafana-10.0.0.
            values={
                "prometheus": {"prometheusSpec": prometheus_spec},
                # Value paths from kube-prometheus-stack 77.10.0 values.yaml and its
                # grafana, kube-state-metrics and prometheus-node-exporter subcharts.
                # AlertmanagerConfigs: the chart's defaults select every one of every namespace
                # (values.yaml `alertmanagerConfigSelector: {}`, `...NamespaceSelector: {}`;
                # templates/alertmanager/alertmanager.yaml); the platform selects only its own,
                # from any namespace, and keeps the operator's default per-namespace
                # `namespace` matcher (OnNamespace, operator v0.85.0).
                "alertmanager": {
                    # Receivers, routes and the mounted credentials (infra/alerting).
                    "config": alerting.chart_values["config"],
                    "alertmanagerSpec": {
                        **alerting.chart_values["alertmanagerSpec"],
                        "resources": sizing.alertmanager,
                        "alertmanagerConfigSelector": {"matchLabels": ALERTMANAGER_CONFIG_LABELS},
                        "alertmanagerConfigNamespaceSelector": {},
                        "alertmanagerConfigMatcherStrategy": {"type": "OnNamespace"},
                    },
                },
                "prometheusOperator": {
                    "resources": sizing.prometheus_operator,
                    "prometheusConfigReloader": {"resources": sizing.config_reloader},
                    "admissionWebhooks": {"patch": {"resources": sizing.webhook_patch_job}},
                },
                # The control-plane scrapes are off: kube-controller-manager, kube-scheduler,
                # etcd and kube-proxy serve metrics on 127.0.0.1 where kubeadm (kind included)
                # sets them up (--bind-address=127.0.0.1, listen-metrics-urls
                # http://127.0.0.1:2381, kube-proxy's metricsBindAddress default
                # 127.0.0.1:10249), and managed control planes expose none, so no
                # NetworkPolicy makes them reachable and KubeControllerManagerDown,
                # KubeSchedulerDown, KubeProxyDown, etcdMembersDown and TargetDown would fire
                # forever. `enabled: false` drops each one's Service, ServiceMonitor and rules
                # (values.yaml:1834, :2121, :2230, :2336; templates/prometheus/rules-1.14/
                # kubernetes-system-controller-manager.yaml:7, kubernetes-system-scheduler.yaml:7,
                # kubernetes-system-kube-proxy.yaml:7, etcd.yaml:7). CoreDNS stays scraped
                # (infra/namespaces/ opens Prometheus -> kube-system CoreDNS on 9153).
                **{component: {"enabled": False} for component in UNREACHABLE_CONTROL_PLANE},
                "kube-state-metrics": {"resources": sizing.kube_state_metrics},
                "prometheus-node-exporter": {"resources": sizing.node_exporter},
                "grafana": {
                    "resources": sizing.grafana,
                    "admin": {
                        "existingSecret": GRAFANA_ADMIN_SECRET,
                        "userKey": "admin-user",
                        "passwordKey": "admin-password",
                    },
                    # grafana chart 10.0.0 templates/role.yaml: `rbac.namespaced` makes the
                    # sidecar's access a Role in this namespace, not a ClusterRole reading
                    # ConfigMaps and Secrets cluster-wide. kube-prometheus-stack 77.10.0 sets
                    # `grafana.sidecar.dashboards.searchNamespace: ALL` (its values.yaml:1368),
                    # which the sidecar lists cluster-wide and gets 403 for, forever, under that
                    # Role: the search is pinned to the namespace the Role covers, where the
                    # chart's and the platform's dashboards live (grafana templates/_pod.tpl:516
                    # passes the list as the sidecar's NAMESPACE). `resource` narrows it to
                    # ConfigMaps.
                    "rbac": {"namespaced": True},
                    "sidecar": {
                        "resources": sizing.grafana_sidecar,
                        "dashboards": {
                            "enabled": True,
                            "label": "grafana_dashboard",
                            "labelValue": "1",
                            "resource": "configmap",
                            "searchNamespace": list(GRAFANA_SEARCH_NAMESPACES),
                        },
                    },
                },
            },
            opts=self.child_opts(depends_on=[admin, alerting.secret]),
        )
        self.register_outputs({"release": RELEASE_NAME})

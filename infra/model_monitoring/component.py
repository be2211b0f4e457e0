"""Pulumi component declaring a Seldon deployment's monitoring: scraping, alerts and dashboards."""

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.core.v1 import ConfigMap

from infra.component import PlatformComponent
from infra.model_monitoring.config import MonitoringConfig, PredictorTarget
from infra.model_monitoring.dashboards import dashboard_config_maps
from infra.model_monitoring.podmonitor import pod_monitor
from infra.model_monitoring.rules import prometheus_rule


class ModelMonitoring(PlatformComponent):
    """PodMonitor and PrometheusRule beside the SeldonDeployment, dashboards beside Grafana.

    The PodMonitor and PrometheusRule go into `serving_namespace` and carry the
    kube-prometheus-stack `release` label; the dashboard ConfigMaps go into
    `monitoring_namespace` labelled `grafana_dashboard: "1"` for Grafana's sidecar.
    `predictors` lists the SeldonDeployment's predictors with their traffic (a shadow's
    traffic is its mirror percent); alerts about missing traffic cover those above 0.
    """

    pod_monitor_name: pulumi.Output[str]
    rule_name: pulumi.Output[str]
    dashboard_config_map_names: list[pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        config: MonitoringConfig,
        *,
        deployment_name: str,
        serving_namespace: str,
        monitoring_namespace: str,
        predictors: list[PredictorTarget],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if not predictors:
            raise ValueError(
                f"ModelMonitoring {name!r}: predictors is empty; expected the SeldonDeployment "
                f"{deployment_name!r}'s predictors (name, traffic, shadow)"
            )
        super().__init__("mlops:monitoring:ModelMonitoring", name, opts)
        child = self.child_opts()
        monitor = _custom_resource(
            f"{name}-pod-monitor",
            pod_monitor(config, deployment_name=deployment_name, namespace=serving_namespace),
            child,
        )
        rule = _custom_resource(
            f"{name}-rules",
            prometheus_rule(
                config,
                deployment_name=deployment_name,
                namespace=serving_namespace,
                predictors=predictors,
            ),
            child,
        )
        config_maps = [
            ConfigMap(
                f"{name}-{manifest['metadata']['name']}",
                metadata=manifest["metadata"],
                data=manifest["data"],
                opts=child,
            )
            for manifest in dashboard_config_maps(
                config,
                deployment_name=deployment_name,
                serving_namespace=serving_namespace,
                monitoring_namespace=monitoring_namespace,
                predictors=predictors,
            )
        ]
        self.pod_monitor_name = monitor.metadata["name"]
        self.rule_name = rule.metadata["name"]
        self.dashboard_config_map_names = [cm.metadata.name for cm in config_maps]
        self.register_outputs(
            {
                "pod_monitor_name": self.pod_monitor_name,
                "rule_name": self.rule_name,
                "dashboard_config_map_names": self.dashboard_config_map_names,
            }
        )


def _custom_resource(name: str, manifest: dict, opts: pulumi.ResourceOptions) -> CustomResource:
    return CustomResource(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=opts,
    )

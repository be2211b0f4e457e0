"""Pulumi components of the model monitoring: per deployment (scraping, alerts) and per stack
(dashboards)."""

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.core.v1 import ConfigMap

from infra.component import PlatformComponent
from infra.model_monitoring.config import MonitoringConfig, PredictorTarget
from infra.model_monitoring.dashboards import dashboard_config_maps
from infra.model_monitoring.podmonitor import pod_monitor
from infra.model_monitoring.rules import prometheus_rule


class ModelMonitoring(PlatformComponent):
    """PodMonitor and PrometheusRule of one SeldonDeployment, beside it in `serving_namespace`.

    The PodMonitor selects only that deployment's pods; the rules select its series and use
    `config`, the stack's monitoring settings with the deployment's overrides. Both carry the
    kube-prometheus-stack `release` label. `predictors` lists the deployment's predictors with
    their traffic (a shadow's traffic is its mirror percent); the no-traffic alert covers those
    above 0.
    """

    pod_monitor_name: pulumi.Output[str]
    rule_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: MonitoringConfig,
        *,
        deployment_name: str,
        serving_namespace: str,
        predictors: list[PredictorTarget],
        runbook_base_url: str,
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
                runbook_base_url=runbook_base_url,
            ),
            child,
        )
        self.pod_monitor_name = monitor.metadata["name"]
        self.rule_name = rule.metadata["name"]
        self.register_outputs(
            {"pod_monitor_name": self.pod_monitor_name, "rule_name": self.rule_name}
        )


class MonitoringDashboards(PlatformComponent):
    """The stack's Grafana dashboards, once, with namespace and deployment variables: ConfigMaps
    in `monitoring_namespace` labelled `grafana_dashboard: "1"` for Grafana's sidecar."""

    config_map_names: list[pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        config: MonitoringConfig,
        *,
        monitoring_namespace: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:monitoring:MonitoringDashboards", name, opts)
        child = self.child_opts()
        config_maps = [
            ConfigMap(
                f"{name}-{manifest['metadata']['name']}",
                metadata=manifest["metadata"],
                data=manifest["data"],
                opts=child,
            )
            for manifest in dashboard_config_maps(config, monitoring_namespace=monitoring_namespace)
        ]
        self.config_map_names = [cm.metadata.name for cm in config_maps]
        self.register_outputs({"config_map_names": self.config_map_names})


def _custom_resource(name: str, manifest: dict, opts: pulumi.ResourceOptions) -> CustomResource:
    return CustomResource(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=opts,
    )

"""Requests and limits of the platform's own charts and of the Seldon executor, per profile.

`small` is for the kind laptop stack and dev: everything the local stack asks for fits in 3 CPU
and 6 GiB of requests (tests/stacks/test_laptop_footprint.py), autoscalers at their maxima.
`ha` keeps production's sizes: the charts' own defaults where upstream sets them (istiod
500m/2Gi, the operator manager 100m/200Mi), two to three istiod and two to five gateway pods,
and room for Prometheus' retention. Model predictors are sized per stack in
`deployments[].resources` from the measured server footprint; docs/sizing.md has the method and
the figures.
"""

from dataclasses import dataclass
from typing import Literal

from infra.config_types import CamelModel
from infra.workloads import resources


@dataclass(frozen=True)
class Replicas:
    """How many pods of a scaled workload may run: fixed when `minimum == maximum`, else a
    HorizontalPodAutoscaler between the two. The footprint counts `maximum`."""

    minimum: int
    maximum: int

    @property
    def autoscaled(self) -> bool:
        return self.maximum > self.minimum


@dataclass(frozen=True)
class PlatformSizing:
    """One container's `resources` for every platform workload the stack's charts run, and the
    replica range of the two the Istio charts autoscale by default (1 to 5: istio 1.30.3
    istio-discovery/values.yaml:4-6 `autoscaleMin`/`autoscaleMax`, gateway/values.yaml:82-85
    `autoscaling`)."""

    istiod: dict
    ingress_gateway: dict
    istiod_replicas: Replicas
    ingress_gateway_replicas: Replicas
    seldon_manager: dict
    executor: dict
    prometheus: dict
    alertmanager: dict
    prometheus_operator: dict
    config_reloader: dict
    webhook_patch_job: dict
    grafana: dict
    grafana_sidecar: dict
    kube_state_metrics: dict
    node_exporter: dict
    cert_manager: dict
    cert_manager_webhook: dict
    cert_manager_cainjector: dict
    cert_manager_startupapicheck: dict
    registry_db: dict
    """One PostgreSQL instance of the registry (the Cluster's `resources`, per instance)."""
    cnpg_operator: dict

    def istiod_scaling_values(self) -> dict:
        """istiod chart keys: its HPA (templates/autoscale.yaml) or a fixed `replicaCount`
        (templates/deployment.yaml:26-28)."""
        replicas = self.istiod_replicas
        if replicas.autoscaled:
            return {
                "autoscaleEnabled": True,
                "autoscaleMin": replicas.minimum,
                "autoscaleMax": replicas.maximum,
            }
        return {"autoscaleEnabled": False, "replicaCount": replicas.maximum}

    def ingress_gateway_scaling_values(self) -> dict:
        """gateway chart keys: its HPA (templates/hpa.yaml) or a fixed `replicaCount`
        (templates/deployment.yaml:13-15)."""
        replicas = self.ingress_gateway_replicas
        if replicas.autoscaled:
            return {
                "autoscaling": {
                    "enabled": True,
                    "minReplicas": replicas.minimum,
                    "maxReplicas": replicas.maximum,
                }
            }
        return {"autoscaling": {"enabled": False}, "replicaCount": replicas.maximum}

    def seldon_manager_values(self) -> dict:
        """The operator chart takes flat keys (seldon-core v1.17.1 seldon-core-operator values)."""
        return {
            "cpuRequest": self.seldon_manager["requests"]["cpu"],
            "memoryRequest": self.seldon_manager["requests"]["memory"],
            "cpuLimit": self.seldon_manager["limits"]["cpu"],
            "memoryLimit": self.seldon_manager["limits"]["memory"],
        }


SMALL = PlatformSizing(
    istiod=resources("100m", "256Mi", "1", "1Gi"),
    ingress_gateway=resources("100m", "128Mi", "1", "512Mi"),
    # One of each on a laptop or a dev cluster: an HPA there would only spend the budget.
    istiod_replicas=Replicas(1, 1),
    ingress_gateway_replicas=Replicas(1, 1),
    seldon_manager=resources("100m", "128Mi", "500m", "512Mi"),
    # The executor is Seldon's Go request router (seldonio/seldon-core-executor); not measured
    # here (no cluster), sized like a small Go proxy instead of the operator's 500m/512Mi default.
    executor=resources("50m", "64Mi", "500m", "256Mi"),
    prometheus=resources("100m", "384Mi", "1", "1Gi"),
    alertmanager=resources("25m", "64Mi", "200m", "128Mi"),
    prometheus_operator=resources("50m", "96Mi", "200m", "256Mi"),
    config_reloader=resources("10m", "32Mi", "100m", "64Mi"),
    webhook_patch_job=resources("10m", "32Mi", "100m", "64Mi"),
    grafana=resources("50m", "192Mi", "500m", "512Mi"),
    grafana_sidecar=resources("10m", "64Mi", "100m", "128Mi"),
    kube_state_metrics=resources("10m", "64Mi", "100m", "128Mi"),
    node_exporter=resources("10m", "32Mi", "100m", "64Mi"),
    cert_manager=resources("20m", "64Mi", "200m", "256Mi"),
    cert_manager_webhook=resources("10m", "32Mi", "100m", "128Mi"),
    cert_manager_cainjector=resources("10m", "64Mi", "100m", "256Mi"),
    cert_manager_startupapicheck=resources("10m", "32Mi", "100m", "64Mi"),
    # What the hand-written StatefulSet asked for; the operator's manager is a Go controller.
    registry_db=resources("100m", "256Mi", "1", "1Gi"),
    cnpg_operator=resources("50m", "96Mi", "500m", "256Mi"),
)

HA = PlatformSizing(
    istiod=resources("500m", "2Gi", "2", "4Gi"),
    ingress_gateway=resources("100m", "128Mi", "2", "1Gi"),
    # Two of each survive a node; istiod's load grows with the mesh, the gateway's with traffic.
    istiod_replicas=Replicas(2, 3),
    ingress_gateway_replicas=Replicas(2, 5),
    seldon_manager=resources("100m", "200Mi", "500m", "512Mi"),
    executor=resources("100m", "128Mi", "1", "512Mi"),
    prometheus=resources("500m", "2Gi", "2", "4Gi"),
    alertmanager=resources("50m", "128Mi", "500m", "256Mi"),
    prometheus_operator=resources("100m", "256Mi", "500m", "512Mi"),
    config_reloader=resources("10m", "50Mi", "200m", "128Mi"),
    webhook_patch_job=resources("10m", "32Mi", "100m", "64Mi"),
    grafana=resources("100m", "256Mi", "1", "1Gi"),
    grafana_sidecar=resources("20m", "96Mi", "200m", "256Mi"),
    kube_state_metrics=resources("20m", "128Mi", "200m", "256Mi"),
    node_exporter=resources("20m", "48Mi", "200m", "128Mi"),
    cert_manager=resources("50m", "128Mi", "500m", "256Mi"),
    cert_manager_webhook=resources("20m", "64Mi", "200m", "128Mi"),
    cert_manager_cainjector=resources("20m", "128Mi", "200m", "256Mi"),
    cert_manager_startupapicheck=resources("10m", "32Mi", "100m", "64Mi"),
    registry_db=resources("250m", "512Mi", "2", "2Gi"),
    cnpg_operator=resources("100m", "128Mi", "1", "512Mi"),
)

PROFILES = {"small": SMALL, "ha": HA}


class SizingConfig(CamelModel):
    """Stack key choosing the profile: `small` (laptop, dev) or `ha` (production)."""

    platform_sizing: Literal["small", "ha"] = "ha"

    @property
    def platform(self) -> PlatformSizing:
        return PROFILES[self.platform_sizing]

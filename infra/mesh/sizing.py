"""istiod's and the ingress gateway's requests, limits and replicas per sizing profile: one pod
each on a laptop or dev cluster, two up to three (istiod) and five (gateway) in production,
within the charts' own autoscaling range of 1 to 5 (istio 1.30.3 istio-discovery/values.yaml:4-6
`autoscaleMin`/`autoscaleMax`, gateway/values.yaml:82-85 `autoscaling`)."""

from dataclasses import dataclass

from infra.sizing import Profiles, Replicas
from infra.workloads import resources


@dataclass(frozen=True)
class MeshSizing:
    istiod: dict
    ingress_gateway: dict
    istiod_replicas: Replicas
    ingress_gateway_replicas: Replicas

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


SIZING = Profiles(
    small=MeshSizing(
        istiod=resources("100m", "256Mi", "1", "1Gi"),
        ingress_gateway=resources("100m", "128Mi", "1", "512Mi"),
        # One of each on a laptop or a dev cluster: an HPA there would only spend the budget.
        istiod_replicas=Replicas(1, 1),
        ingress_gateway_replicas=Replicas(1, 1),
    ),
    ha=MeshSizing(
        istiod=resources("500m", "2Gi", "2", "4Gi"),
        ingress_gateway=resources("100m", "128Mi", "2", "1Gi"),
        # Two of each survive a node; istiod's load grows with the mesh, the gateway's with
        # traffic.
        istiod_replicas=Replicas(2, 3),
        ingress_gateway_replicas=Replicas(2, 5),
    ),
)

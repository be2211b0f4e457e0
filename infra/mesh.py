"""Istio: the ingress Seldon needs for weighted traffic and mirroring, plus the Seldon gateway."""

from typing import Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field

from infra.component import PlatformComponent
from infra.config_types import CamelModel, ChartVersion
from infra.helm import pinned_release
from infra.namespaces import ISTIO
from infra.sizing import PlatformSizing

ISTIO_CHARTS = "https://istio-release.storage.googleapis.com/charts"
GATEWAY_NAME = "seldon-gateway"
INGRESS_NODE_PORT = 30080
"""NodePort of the ingress gateway; the dev kind cluster maps it to the host."""


class MeshConfig(CamelModel):
    """Stack keys for Istio."""

    istio_version: ChartVersion = "1.26.2"
    ingress_service_type: Literal["NodePort", "LoadBalancer", "ClusterIP"] = "LoadBalancer"
    ingress_domain: str = Field(
        default="localtest.me", pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$"
    )
    ingress_port: int = Field(default=80, ge=1, le=65535)

    def url(self, subdomain: str | None = None, path: str = "") -> str:
        """The public URL of a host behind the ingress gateway."""
        host = f"{subdomain}.{self.ingress_domain}" if subdomain else self.ingress_domain
        port = "" if self.ingress_port == 80 else f":{self.ingress_port}"
        return f"http://{host}{port}{path}"


class ServiceMesh(PlatformComponent):
    """Istio base (CRDs), istiod and an ingress gateway from pinned charts, and the Gateway the
    Seldon operator routes through (`istio-system/seldon-gateway`)."""

    control_plane: k8s.helm.v3.Release
    gateway: k8s.apiextensions.CustomResource
    gateway_ref: str = f"{ISTIO}/{GATEWAY_NAME}"

    def __init__(
        self,
        name: str,
        config: MeshConfig,
        *,
        sizing: PlatformSizing,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:mesh:ServiceMesh", name, opts)

        def release(
            release_name: str, chart: str, values: dict, after: list
        ) -> k8s.helm.v3.Release:
            return pinned_release(
                release_name,
                chart=chart,
                version=config.istio_version,
                repository=ISTIO_CHARTS,
                namespace=ISTIO,
                values=values,
                opts=self.child_opts(depends_on=after),
            )

        base = release("istio-base", "base", {"defaultRevision": "default"}, [])
        self.control_plane = release(
            "istiod",
            "istiod",
            {
                "pilot": {"resources": sizing.istiod},
                "meshConfig": {"accessLogFile": "/dev/stdout"},
            },
            [base],
        )
        service: dict = {"type": config.ingress_service_type}
        if config.ingress_service_type == "NodePort":
            service["ports"] = [
                {"name": "http2", "port": 80, "targetPort": 80, "nodePort": INGRESS_NODE_PORT}
            ]
        ingress = release(
            "istio-ingressgateway",
            "gateway",
            {
                "labels": {"istio": "ingressgateway"},
                "service": service,
                "resources": sizing.ingress_gateway,
            },
            [self.control_plane],
        )
        self.gateway = k8s.apiextensions.CustomResource(
            GATEWAY_NAME,
            api_version="networking.istio.io/v1beta1",
            kind="Gateway",
            metadata={"name": GATEWAY_NAME, "namespace": ISTIO},
            spec={
                "selector": {"istio": "ingressgateway"},
                "servers": [
                    {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}
                ],
            },
            opts=self.child_opts(depends_on=[ingress]),
        )
        self.register_outputs({"gateway": self.gateway_ref})


def ingress_route(
    name: str,
    *,
    host: str,
    namespace: str,
    service: str,
    port: int,
    parent: pulumi.Resource,
    after: list[pulumi.Resource],
) -> k8s.apiextensions.CustomResource:
    """Route `host` on the Seldon gateway to a service (MLflow, Grafana)."""
    return k8s.apiextensions.CustomResource(
        name,
        api_version="networking.istio.io/v1beta1",
        kind="VirtualService",
        metadata={"name": name, "namespace": namespace},
        spec={
            "hosts": [host],
            "gateways": [f"{ISTIO}/{GATEWAY_NAME}"],
            "http": [
                {
                    "route": [
                        {
                            "destination": {
                                "host": f"{service}.{namespace}.svc.cluster.local",
                                "port": {"number": port},
                            }
                        }
                    ]
                }
            ],
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
    )

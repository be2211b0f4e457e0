"""Istio: the ingress Seldon needs for weighted traffic and mirroring, plus the Seldon gateway,
served over HTTPS only, with a request-body limit and (per stack) JWT on the prediction path."""

import pulumi
import pulumi_kubernetes as k8s

from infra.component import PlatformComponent, custom_resource
from infra.helm import pinned_release
from infra.mesh import manifests
from infra.mesh.config import GATEWAY_NAME, ISTIO_CHARTS, REDIRECT_GATEWAY_NAME, MeshConfig
from infra.mesh.config import NAMESPACE as ISTIO
from infra.mesh.sizing import MeshSizing


class ServiceMesh(PlatformComponent):
    """Istio base (CRDs), istiod and an ingress gateway from pinned charts, and the Gateway the
    platform's routes bind to (`istio-system/seldon-gateway`); the objects and values come from
    `infra/mesh/manifests.py`."""

    control_plane: k8s.helm.v3.Release
    gateway: k8s.apiextensions.CustomResource
    gateway_ref: str = f"{ISTIO}/{GATEWAY_NAME}"

    def __init__(
        self,
        name: str,
        config: MeshConfig,
        *,
        sizing: MeshSizing,
        tls_secret: str,
        certificate: pulumi.Resource | None,
        unbuffered_hosts: list[str],
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

        # Values checked against manifests/charts/{base,istio-control/istio-discovery,gateway}/
        # values.yaml@1.30.3 (istio/istio): the charts keep their defaults under
        # `_internal_defaults_do_not_set` and take overrides at the top level.
        base = release("istio-base", "base", {"defaultRevision": "default"}, [])
        self.control_plane = release("istiod", "istiod", manifests.istiod_values(sizing), [base])
        ingress = release(
            "istio-ingressgateway",
            "gateway",
            manifests.gateway_values(config, sizing),
            [self.control_plane],
        )
        self.gateway = self._object(
            GATEWAY_NAME,
            manifests.https_gateway(tls_secret),
            after=[ingress, *([certificate] if certificate else [])],
        )
        redirect = self._object(
            REDIRECT_GATEWAY_NAME, manifests.redirect_gateway(), after=[ingress]
        )
        self._object("https-redirect", manifests.https_redirect(config), after=[redirect])
        self._object(
            "gateway-request-body-limit",
            manifests.body_limit(config, unbuffered_hosts),
            after=[ingress],
        )
        if config.prediction_auth == "jwt":
            for policy in manifests.jwt_policies(config):
                self._object(policy["metadata"]["name"], policy, after=[ingress])
        self.register_outputs({"gateway": self.gateway_ref})

    def _object(
        self, name: str, manifest: dict, after: list[pulumi.Resource]
    ) -> k8s.apiextensions.CustomResource:
        return custom_resource(name, manifest, self.child_opts(depends_on=after))


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
    return custom_resource(
        name,
        manifests.host_route(name, host=host, namespace=namespace, service=service, port=port),
        pulumi.ResourceOptions(parent=parent, depends_on=after),
    )

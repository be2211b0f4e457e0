"""Istio: the ingress Seldon needs for weighted traffic and mirroring, plus the Seldon gateway,
served over HTTPS only, with a request-body limit and (per stack) JWT on the prediction path."""

import pulumi
import pulumi_kubernetes as k8s

from infra.component import PlatformComponent
from infra.helm import pinned_release
from infra.mesh.config import (
    GATEWAY_NAME,
    GATEWAY_SELECTOR,
    INGRESS_HTTPS_NODE_PORT,
    INGRESS_NODE_PORT,
    ISTIO_CHARTS,
    PREDICTION_PATHS,
    REDIRECT_GATEWAY_NAME,
    MeshConfig,
)
from infra.mesh.config import NAMESPACE as ISTIO
from infra.mesh.sizing import MeshSizing


class ServiceMesh(PlatformComponent):
    """Istio base (CRDs), istiod and an ingress gateway from pinned charts, and the Gateway the
    platform's routes bind to (`istio-system/seldon-gateway`)."""

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
        self.control_plane = release(
            "istiod",
            "istiod",
            {
                # Top-level `resources` (deployment.yaml reads .Values.resources); a `pilot:`
                # key is ignored and istiod would request the chart's 500m / 2048Mi.
                "resources": sizing.istiod,
                **sizing.istiod_scaling_values(),
                "meshConfig": {"accessLogFile": "/dev/stdout"},
            },
            [base],
        )
        service: dict = {"type": config.ingress_service_type}
        if config.ingress_service_type == "NodePort":
            # Port names as in the gateway chart's values.yaml (istio 1.30.3 manifests/charts/
            # gateway/values.yaml `service.ports`); setting the list replaces the chart's.
            service["ports"] = [
                {"name": "http2", "port": 80, "targetPort": 80, "nodePort": INGRESS_NODE_PORT},
                {
                    "name": "https",
                    "port": 443,
                    "targetPort": 443,
                    "nodePort": INGRESS_HTTPS_NODE_PORT,
                },
            ]
        ingress = release(
            "istio-ingressgateway",
            "gateway",
            {
                "labels": GATEWAY_SELECTOR,
                "service": service,
                "resources": sizing.ingress_gateway,
                **sizing.ingress_gateway_scaling_values(),
            },
            [self.control_plane],
        )
        self.gateway = k8s.apiextensions.CustomResource(
            GATEWAY_NAME,
            api_version="networking.istio.io/v1beta1",
            kind="Gateway",
            metadata={"name": GATEWAY_NAME, "namespace": ISTIO},
            spec={
                "selector": GATEWAY_SELECTOR,
                "servers": [
                    {
                        "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                        "hosts": ["*"],
                        "tls": {
                            "mode": "SIMPLE",
                            "credentialName": tls_secret,
                            "minProtocolVersion": "TLSV1_2",
                        },
                    },
                ],
            },
            opts=self.child_opts(depends_on=[ingress, *([certificate] if certificate else [])]),
        )
        self._https_redirect(config, after=[ingress])
        self._body_limit(config, unbuffered_hosts, after=[ingress])
        if config.prediction_auth == "jwt":
            self._jwt(config, after=[ingress])
        self.register_outputs({"gateway": self.gateway_ref})

    def _https_redirect(self, config: MeshConfig, after: list[pulumi.Resource]) -> None:
        """Plain HTTP gets a 301 to `https://<host>:<ingressHttpsPort><path>`. A server-level
        `tls.httpsRedirect` would not do: Istio turns it into Envoy's `require_tls: ALL`
        (pilot/pkg/networking/core/gateway.go:492-493 @ 1.30.3), whose redirect keeps the
        request's Host, port included, so local's `http://localtest.me:8080` went to
        `https://localtest.me:8080`, where nothing speaks TLS. A route redirect sets the port
        (`HTTPRedirect.port`, pilot/pkg/networking/core/route/route.go:811-812) and leaves it
        out for 443 (:826-827). The HTTP server is its own Gateway so that no route bound to the
        HTTPS one is ever served in clear.

        ACME HTTP-01 renewals are not swallowed by the redirect: cert-manager's solver Ingress
        (class `istio`) names each challenged host exactly, Istio merges it into the same port-80
        route configuration as a virtual host of that exact domain, and Envoy picks the most
        specific domain before this `*` route (pilot/pkg/networking/core/gateway.go:525-543
        @ 1.30.3), so `/.well-known/acme-challenge/` on the root, `mlflow.` and `grafana.`
        hosts reaches the solver."""
        gateway = k8s.apiextensions.CustomResource(
            REDIRECT_GATEWAY_NAME,
            api_version="networking.istio.io/v1beta1",
            kind="Gateway",
            metadata={"name": REDIRECT_GATEWAY_NAME, "namespace": ISTIO},
            spec={
                "selector": GATEWAY_SELECTOR,
                "servers": [
                    {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}
                ],
            },
            opts=self.child_opts(depends_on=after),
        )
        k8s.apiextensions.CustomResource(
            "https-redirect",
            api_version="networking.istio.io/v1beta1",
            kind="VirtualService",
            metadata={"name": "https-redirect", "namespace": ISTIO},
            spec={
                "hosts": ["*"],
                "gateways": [f"{ISTIO}/{REDIRECT_GATEWAY_NAME}"],
                "http": [
                    {
                        "name": "to-https",
                        "redirect": {"scheme": "https", "port": config.ingress_https_port},
                    }
                ],
            },
            opts=self.child_opts(depends_on=[gateway]),
        )

    def _body_limit(
        self, config: MeshConfig, unbuffered_hosts: list[str], after: list[pulumi.Resource]
    ) -> None:
        """Envoy's buffer filter on the gateway: a body above the limit is answered 413 before
        it reaches the executor, whose REST server reads whole bodies without a limit (seldon-core
        v1.17.1 executor/api/rest/server.go, `ioutil.ReadAll(req.Body)`). Hosts that take large
        uploads behind their own authentication (MLflow's artifact proxy) are exempt per route."""
        buffer_filter = "envoy.filters.http.buffer"
        patches: list[dict] = [
            {
                "applyTo": "HTTP_FILTER",
                "match": {
                    "context": "GATEWAY",
                    "listener": {
                        "filterChain": {
                            "filter": {
                                "name": "envoy.filters.network.http_connection_manager",
                                "subFilter": {"name": "envoy.filters.http.router"},
                            }
                        }
                    },
                },
                "patch": {
                    "operation": "INSERT_BEFORE",
                    "value": {
                        "name": buffer_filter,
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer"
                            ".v3.Buffer",
                            "max_request_bytes": config.gateway_max_request_bytes,
                        },
                    },
                },
            }
        ]
        patches += [
            {
                "applyTo": "VIRTUAL_HOST",
                "match": {
                    "context": "GATEWAY",
                    "routeConfiguration": {"vhost": {"name": f"{host}:443"}},
                },
                "patch": {
                    "operation": "MERGE",
                    "value": {
                        "typed_per_filter_config": {
                            buffer_filter: {
                                "@type": "type.googleapis.com/envoy.extensions.filters.http"
                                ".buffer.v3.BufferPerRoute",
                                "disabled": True,
                            }
                        }
                    },
                },
            }
            for host in unbuffered_hosts
        ]
        k8s.apiextensions.CustomResource(
            "gateway-request-body-limit",
            api_version="networking.istio.io/v1alpha3",
            kind="EnvoyFilter",
            metadata={"name": "request-body-limit", "namespace": ISTIO},
            spec={"workloadSelector": {"labels": GATEWAY_SELECTOR}, "configPatches": patches},
            opts=self.child_opts(depends_on=after),
        )

    def _jwt(self, config: MeshConfig, after: list[pulumi.Resource]) -> None:
        """Validate bearer tokens at the gateway and refuse every prediction path, REST and
        gRPC, without one from the configured issuer (an invalid token is already a 401 from
        the RequestAuthentication; a missing one is the DENY below, 403)."""
        rule: dict = {"issuer": config.jwt_issuer, "jwksUri": config.jwt_jwks_uri}
        if config.jwt_audiences:
            rule["audiences"] = list(config.jwt_audiences)
        k8s.apiextensions.CustomResource(
            "prediction-jwt",
            api_version="security.istio.io/v1",
            kind="RequestAuthentication",
            metadata={"name": "prediction-jwt", "namespace": ISTIO},
            spec={"selector": {"matchLabels": GATEWAY_SELECTOR}, "jwtRules": [rule]},
            opts=self.child_opts(depends_on=after),
        )
        k8s.apiextensions.CustomResource(
            "prediction-requires-jwt",
            api_version="security.istio.io/v1",
            kind="AuthorizationPolicy",
            metadata={"name": "prediction-requires-jwt", "namespace": ISTIO},
            spec={
                "selector": {"matchLabels": GATEWAY_SELECTOR},
                "action": "DENY",
                "rules": [
                    {
                        "from": [{"source": {"notRequestPrincipals": [f"{config.jwt_issuer}/*"]}}],
                        "to": [{"operation": {"paths": PREDICTION_PATHS}}],
                    }
                ],
            },
            opts=self.child_opts(depends_on=after),
        )


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

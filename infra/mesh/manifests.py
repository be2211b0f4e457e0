"""The mesh's own objects as plain manifests: the HTTPS Gateway every route binds to, the plain
HTTP Gateway that only redirects, the request-body limit, JWT on the prediction path, host
routes to platform services, and the Istio charts' values."""

from infra.internal_tls import upstream_tls_policy
from infra.mesh.config import (
    GATEWAY_NAME,
    GATEWAY_SELECTOR,
    INGRESS_HTTPS_NODE_PORT,
    INGRESS_NODE_PORT,
    PREDICTION_PATHS,
    REDIRECT_GATEWAY_NAME,
    MeshConfig,
)
from infra.mesh.config import NAMESPACE as ISTIO
from infra.mesh.sizing import MeshSizing

NETWORKING = "networking.istio.io/v1beta1"
SECURITY = "security.istio.io/v1"


def istiod_values(sizing: MeshSizing) -> dict:
    return {
        # Top-level `resources` (deployment.yaml reads .Values.resources); a `pilot:` key is
        # ignored and istiod would request the chart's 500m / 2048Mi.
        "resources": sizing.istiod,
        **sizing.istiod_scaling_values(),
        "meshConfig": {"accessLogFile": "/dev/stdout"},
    }


def gateway_values(config: MeshConfig, sizing: MeshSizing) -> dict:
    service: dict = {"type": config.ingress_service_type}
    if config.ingress_service_type == "NodePort":
        # Port names as in the gateway chart's values.yaml (istio 1.30.3 manifests/charts/
        # gateway/values.yaml `service.ports`); setting the list replaces the chart's.
        service["ports"] = [
            {"name": "http2", "port": 80, "targetPort": 80, "nodePort": INGRESS_NODE_PORT},
            {"name": "https", "port": 443, "targetPort": 443, "nodePort": INGRESS_HTTPS_NODE_PORT},
        ]
    return {
        "labels": GATEWAY_SELECTOR,
        "service": service,
        "resources": sizing.ingress_gateway,
        **sizing.ingress_gateway_scaling_values(),
    }


def https_gateway(tls_secret: str) -> dict:
    """The Gateway every platform route binds to: HTTPS only, TLS 1.2 or newer."""
    return {
        "apiVersion": NETWORKING,
        "kind": "Gateway",
        "metadata": {"name": GATEWAY_NAME, "namespace": ISTIO},
        "spec": {
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
    }


def redirect_gateway() -> dict:
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
    return {
        "apiVersion": NETWORKING,
        "kind": "Gateway",
        "metadata": {"name": REDIRECT_GATEWAY_NAME, "namespace": ISTIO},
        "spec": {
            "selector": GATEWAY_SELECTOR,
            "servers": [
                {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}
            ],
        },
    }


def https_redirect(config: MeshConfig) -> dict:
    """The redirect gateway's one route: to `https://` on the stack's public HTTPS port."""
    return {
        "apiVersion": NETWORKING,
        "kind": "VirtualService",
        "metadata": {"name": "https-redirect", "namespace": ISTIO},
        "spec": {
            "hosts": ["*"],
            "gateways": [f"{ISTIO}/{REDIRECT_GATEWAY_NAME}"],
            "http": [
                {
                    "name": "to-https",
                    "redirect": {"scheme": "https", "port": config.ingress_https_port},
                }
            ],
        },
    }


def body_limit(config: MeshConfig, unbuffered_hosts: list[str]) -> dict:
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
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": {"name": "request-body-limit", "namespace": ISTIO},
        "spec": {"workloadSelector": {"labels": GATEWAY_SELECTOR}, "configPatches": patches},
    }


def jwt_policies(config: MeshConfig) -> list[dict]:
    """Validate bearer tokens at the gateway and refuse every prediction path, REST and
    gRPC, without one from the configured issuer (an invalid token is already a 401 from
    the RequestAuthentication; a missing one is the DENY below, 403)."""
    rule: dict = {"issuer": config.jwt_issuer, "jwksUri": config.jwt_jwks_uri}
    if config.jwt_audiences:
        rule["audiences"] = list(config.jwt_audiences)
    return [
        {
            "apiVersion": SECURITY,
            "kind": "RequestAuthentication",
            "metadata": {"name": "prediction-jwt", "namespace": ISTIO},
            "spec": {"selector": {"matchLabels": GATEWAY_SELECTOR}, "jwtRules": [rule]},
        },
        {
            "apiVersion": SECURITY,
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "prediction-requires-jwt", "namespace": ISTIO},
            "spec": {
                "selector": {"matchLabels": GATEWAY_SELECTOR},
                "action": "DENY",
                "rules": [
                    {
                        "from": [{"source": {"notRequestPrincipals": [f"{config.jwt_issuer}/*"]}}],
                        "to": [{"operation": {"paths": PREDICTION_PATHS}}],
                    }
                ],
            },
        },
    ]


def host_route(name: str, *, host: str, namespace: str, service: str, port: int) -> dict:
    """Route `host` on the HTTPS gateway to a service (MLflow, Grafana)."""
    return {
        "apiVersion": NETWORKING,
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
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
    }


def upstream_tls_rule(name: str, *, host: str, ca_secret: str) -> dict:
    """The DestinationRule in istio-system making the gateway speak TLS to the platform service
    `host`, verifying it with the `ca.crt` of Secret `ca_secret` (`upstream_tls_policy`)."""
    return {
        "apiVersion": NETWORKING,
        "kind": "DestinationRule",
        "metadata": {"name": name, "namespace": ISTIO},
        "spec": upstream_tls_policy(host, ca_secret),
    }

"""cert-manager's namespace: its webhook for the API server, ACME out, the HTTP-01 self-check."""

from infra.cert_manager.config import CERT_MANAGER_CONTROLLER, NAMESPACE, CertManagerConfig
from infra.mesh.config import GATEWAY_PODS
from infra.mesh.config import NAMESPACE as ISTIO
from infra.namespaces.spec import (
    ANY_PEER,
    API_SERVER_PORTS,
    Allow,
    NamespaceSpec,
    from_namespace,
    tcp,
)


def namespaces(config: CertManagerConfig, serving_namespaces: list[str]) -> list[NamespaceSpec]:
    return [
        NamespaceSpec(
            NAMESPACE,
            "restricted",
            [
                # Called by the API server, which is not a pod (chart default webhook.securePort).
                Allow(
                    "webhook",
                    "ingress",
                    ANY_PEER,
                    tcp(10250),
                    {"matchLabels": {"app.kubernetes.io/component": "webhook"}},
                ),
                Allow("api-server", "egress", ANY_PEER, API_SERVER_PORTS),
                # ACME directory and the HTTP-01 self-check against the public gateway.
                Allow("acme", "egress", ANY_PEER, tcp(80, 443), CERT_MANAGER_CONTROLLER),
                # The same self-check where the public address leads to the gateway pods
                # inside the cluster (cert-manager v1.21.1 pkg/issuer/acme/http/http.go:146).
                Allow(
                    "acme-self-check",
                    "egress",
                    [from_namespace(ISTIO, GATEWAY_PODS)],
                    tcp(80),
                    CERT_MANAGER_CONTROLLER,
                ),
            ],
        )
    ]

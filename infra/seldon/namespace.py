"""The operator's namespace: its admission webhooks are called by the API server."""

from infra.namespaces.spec import ANY_PEER, API_SERVER_PORTS, Allow, NamespaceSpec, tcp
from infra.seldon.config import NAMESPACE, SeldonOperatorConfig


def namespaces(config: SeldonOperatorConfig, serving_namespaces: list[str]) -> list[NamespaceSpec]:
    return [
        NamespaceSpec(
            NAMESPACE,
            "baseline",
            [
                # Called by the API server, which is not a pod.
                Allow("operator-webhook", "ingress", ANY_PEER, tcp(4443, 9443)),
                Allow("api-server", "egress", ANY_PEER, API_SERVER_PORTS),
            ],
        )
    ]

"""The mesh's namespace: the public entry point and what istiod and the gateway may reach."""

from infra.cert_manager.config import CERT_MANAGER_CONTROLLER
from infra.cert_manager.config import NAMESPACE as CERT_MANAGER
from infra.mesh.config import GATEWAY_PODS, ISTIOD_PODS, NAMESPACE, MeshConfig
from infra.mlflow.config import MLFLOW_PORT
from infra.mlflow.config import NAMESPACE as MLFLOW
from infra.namespaces.spec import (
    ANY_PEER,
    Allow,
    NamespaceSpec,
    from_namespace,
    from_namespaces,
    tcp,
)
from infra.prometheus_stack.config import GRAFANA_PORT
from infra.prometheus_stack.config import NAMESPACE as MONITORING
from infra.seldon.routing import EXECUTOR_GRPC_PORT, EXECUTOR_HTTP_PORT


def namespaces(config: MeshConfig, serving_namespaces: list[str]) -> list[NamespaceSpec]:
    return [
        NamespaceSpec(
            NAMESPACE,
            "baseline",
            [
                # The public entry point: clients (and load-balancer health checks on 15021).
                Allow(
                    "gateway-from-anywhere", "ingress", ANY_PEER, tcp(80, 443, 15021), GATEWAY_PODS
                ),
                # cert-manager's HTTP-01 self-check: in the cluster, the public address leads
                # here pod to pod; named by selector so it does not rest on the port-only allow.
                Allow(
                    "gateway-from-cert-manager",
                    "ingress",
                    [from_namespace(CERT_MANAGER, CERT_MANAGER_CONTROLLER)],
                    tcp(80),
                    GATEWAY_PODS,
                ),
                # Called by the API server, which is not a pod: no selector can name it.
                Allow("istiod-webhooks", "ingress", ANY_PEER, tcp(15017), ISTIOD_PODS),
                Allow(
                    "gateway-to-seldon-executor",
                    "egress",
                    from_namespaces(serving_namespaces),
                    tcp(EXECUTOR_HTTP_PORT, EXECUTOR_GRPC_PORT),
                    GATEWAY_PODS,
                ),
                Allow(
                    "gateway-to-mlflow",
                    "egress",
                    [from_namespace(MLFLOW)],
                    tcp(MLFLOW_PORT),
                    GATEWAY_PODS,
                ),
                Allow(
                    "gateway-to-grafana",
                    "egress",
                    [from_namespace(MONITORING)],
                    tcp(GRAFANA_PORT),
                    GATEWAY_PODS,
                ),
                # istiod talks to the API server and fetches the JWT issuer's JWKS.
                Allow(
                    "istiod-jwks-and-api-server", "egress", ANY_PEER, tcp(443, 6443), ISTIOD_PODS
                ),
            ],
        )
    ]

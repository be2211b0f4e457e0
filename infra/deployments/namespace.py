"""The namespaces model deployments run in: the gateway (to the executor only) and Prometheus
in, MLflow out."""

from infra.deployments.config import MODEL_METRICS_PORT, DeploymentConfig
from infra.mesh.config import GATEWAY_PODS
from infra.mesh.config import NAMESPACE as ISTIO
from infra.mlflow.config import MLFLOW_PORT
from infra.mlflow.config import NAMESPACE as MLFLOW
from infra.namespaces.spec import Allow, NamespaceSpec, from_namespace, tcp
from infra.prometheus_stack.config import NAMESPACE as MONITORING
from infra.prometheus_stack.config import PROMETHEUS_PODS
from infra.seldon.routing import EXECUTOR_GRPC_PORT, EXECUTOR_HTTP_PORT


def namespaces(
    deployments: list[DeploymentConfig], serving_namespaces: list[str]
) -> list[NamespaceSpec]:
    return [serving_namespace(name) for name in serving_namespaces]


def serving_namespace(name: str) -> NamespaceSpec:
    return NamespaceSpec(
        name,
        "baseline",
        [
            Allow(
                "executor-from-gateway",
                "ingress",
                [from_namespace(ISTIO, GATEWAY_PODS)],
                tcp(EXECUTOR_HTTP_PORT, EXECUTOR_GRPC_PORT),
            ),
            Allow(
                "from-prometheus",
                "ingress",
                [from_namespace(MONITORING, PROMETHEUS_PODS)],
                tcp(EXECUTOR_HTTP_PORT, MODEL_METRICS_PORT),
            ),
            Allow("to-mlflow", "egress", [from_namespace(MLFLOW)], tcp(MLFLOW_PORT)),
        ],
    )

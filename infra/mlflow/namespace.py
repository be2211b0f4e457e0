"""MLflow's namespace: reached from the gateway and the model namespaces, out to its store."""

from infra.mesh.config import GATEWAY_PODS
from infra.mesh.config import NAMESPACE as ISTIO
from infra.mlflow.config import (
    MLFLOW_PODS,
    MLFLOW_PORT,
    NAMESPACE,
    POD_IDENTITY_AGENT,
    MlflowConfig,
)
from infra.namespaces.spec import (
    ANY_PEER,
    Allow,
    NamespaceSpec,
    from_namespace,
    from_namespaces,
    tcp,
)


def namespaces(config: MlflowConfig, serving_namespaces: list[str]) -> list[NamespaceSpec]:
    return [
        NamespaceSpec(
            NAMESPACE,
            "restricted",
            [
                Allow(
                    "from-gateway-and-models",
                    "ingress",
                    [from_namespace(ISTIO, GATEWAY_PODS), *from_namespaces(serving_namespaces)],
                    tcp(MLFLOW_PORT),
                    MLFLOW_PODS,
                ),
                # An external S3 store (artifactStore s3) is outside the cluster.
                Allow("external-object-store", "egress", ANY_PEER, tcp(443), MLFLOW_PODS),
                *credential_egress(config.ambient_credentials),
            ],
        )
    ]


def credential_egress(ambient_credentials: str | None) -> list[Allow]:
    """The MLflow server's way to its S3 credentials: the Pod Identity agent on the node (IRSA
    needs only STS over 443, already open; the instance metadata service stays closed)."""
    if ambient_credentials != "podIdentity":
        return []
    return [Allow("pod-identity-agent", "egress", POD_IDENTITY_AGENT, tcp(80), MLFLOW_PODS)]

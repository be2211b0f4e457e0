"""The operator's namespace, and what the database's pods need in the mlflow namespace: the
operator and Prometheus in; the API server (the instance manager watches its Cluster) and the
object store (barman-cloud over HTTPS) out. The schema-upgrade Job creates its Backup through the
API server. Ports: cloudnative-pg v1.30.0 pkg/management/url/url.go (status 8000, metrics 9187);
the operator's webhook, chart cloudnative-pg-v0.29.0 values.yaml `webhook.port` 9443."""

from infra.mlflow.config import NAMESPACE as MLFLOW
from infra.namespaces.spec import (
    ANY_PEER,
    API_SERVER_PORTS,
    Allow,
    NamespaceSpec,
    from_namespace,
    tcp,
)
from infra.prometheus_stack.config import NAMESPACE as MONITORING
from infra.prometheus_stack.config import PROMETHEUS_PODS
from infra.registry_database.config import NAMESPACE, RegistryDatabaseConfig

DATABASE_PODS = {"matchExpressions": [{"key": "cnpg.io/cluster", "operator": "Exists"}]}
"""Every pod and Job of a CloudNativePG Cluster, a restored one included (pkg/utils/
labels_annotations.go `ClusterLabelName`)."""
OPERATOR_PODS = {"matchLabels": {"app.kubernetes.io/name": "cloudnative-pg"}}
"""The manager's pods (chart templates/_helpers.tpl `cloudnative-pg.selectorLabels`)."""
SCHEMA_UPGRADE_PODS = {"matchLabels": {"app.kubernetes.io/name": "mlflow-access"}}
STATUS_PORT = 8000
METRICS_PORT = 9187
WEBHOOK_PORT = 9443


def namespaces(
    config: RegistryDatabaseConfig, serving_namespaces: list[str]
) -> list[NamespaceSpec]:
    return [
        NamespaceSpec(
            NAMESPACE,
            "restricted",
            [
                # Called by the API server, which is not a pod.
                Allow("operator-webhook", "ingress", ANY_PEER, tcp(WEBHOOK_PORT), OPERATOR_PODS),
                Allow("api-server", "egress", ANY_PEER, API_SERVER_PORTS, OPERATOR_PODS),
                Allow(
                    "operator-to-registry-db",
                    "egress",
                    [from_namespace(MLFLOW, DATABASE_PODS)],
                    tcp(STATUS_PORT),
                    OPERATOR_PODS,
                ),
            ],
        )
    ]


def mlflow_allows() -> list[Allow]:
    """The database's allows in the mlflow namespace (its NamespaceSpec is MLflow's)."""
    return [
        Allow(
            "registry-db-from-operator",
            "ingress",
            [from_namespace(NAMESPACE, OPERATOR_PODS)],
            tcp(STATUS_PORT),
            DATABASE_PODS,
        ),
        Allow(
            "registry-db-from-prometheus",
            "ingress",
            [from_namespace(MONITORING, PROMETHEUS_PODS)],
            tcp(METRICS_PORT),
            DATABASE_PODS,
        ),
        Allow("registry-db-api-server", "egress", ANY_PEER, API_SERVER_PORTS, DATABASE_PODS),
        Allow("registry-db-object-store", "egress", ANY_PEER, tcp(443), DATABASE_PODS),
        Allow(
            "schema-upgrade-api-server", "egress", ANY_PEER, API_SERVER_PORTS, SCHEMA_UPGRADE_PODS
        ),
    ]


def prometheus_allow() -> Allow:
    """Prometheus' scrape of the instances (in the monitoring namespace's spec)."""
    return Allow(
        "prometheus-to-registry-db",
        "egress",
        [from_namespace(MLFLOW, DATABASE_PODS)],
        tcp(METRICS_PORT),
        PROMETHEUS_PODS,
    )

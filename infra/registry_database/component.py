"""Pulumi component of the registry database: the operator, the Cluster, its backups and
alerts."""

import pulumi
import pulumi_kubernetes as k8s

from infra.cert_manager.component import CertManager
from infra.component import PlatformComponent, custom_resource
from infra.helm import pinned_release
from infra.mlflow.config import POD_IDENTITY_AGENT
from infra.namespaces.spec import tcp
from infra.registry_database import cluster as manifests
from infra.registry_database.config import RegistryDatabaseConfig
from infra.registry_database.monitoring import pod_monitor, prometheus_rule
from infra.registry_database.namespace import DATABASE_PODS
from infra.registry_database.operator import CHART, RELEASE_NAME, REPOSITORY, operator_values
from infra.secrets import credentials_secret


class RegistryDatabase(PlatformComponent):
    """PostgreSQL for MLflow's stores, run by CloudNativePG in `namespace`.

    Serves TLS only, with a certificate from the platform CA (clients verify `ca_secret`'s
    `ca.crt` and the host name); the owner's password is `password` (a Pulumi secret); with
    `registryBackups`, WAL is archived continuously and base backups are taken on schedule to
    the object store, kept for `backupRetention`. `ready` is what the database's clients wait
    on.
    """

    host: str
    ca_secret: str = manifests.SERVER_TLS_SECRET
    ready: pulumi.Resource

    def __init__(
        self,
        name: str,
        config: RegistryDatabaseConfig,
        *,
        namespace: str,
        operator_namespace: str,
        password: pulumi.Output[str],
        certificates: CertManager,
        placement: manifests.Placement,
        operator_resources: dict,
        monitoring_ready: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:registry:RegistryDatabase", name, opts)
        self.host = manifests.host(namespace)
        operator = pinned_release(
            RELEASE_NAME,
            chart=CHART,
            version=config.cloudnative_pg_version,
            repository=REPOSITORY,
            namespace=operator_namespace,
            values=operator_values(operator_resources),
            opts=self.child_opts(),
        )
        credentials = credentials_secret(
            manifests.APP_SECRET,
            namespace=namespace,
            data={"username": manifests.OWNER, "password": password},
            secret_type="kubernetes.io/basic-auth",
            opts=self.child_opts(),
        )
        certificate = certificates.certificate(
            manifests.SERVER_TLS_SECRET,
            namespace=namespace,
            secret_name=manifests.SERVER_TLS_SECRET,
            dns_names=manifests.server_dns_names(namespace),
        )
        waits_on: list[pulumi.Resource] = [operator, credentials, certificate]
        if config.backup_secret_access_key is not None:
            waits_on.append(
                credentials_secret(
                    manifests.BACKUP_CREDENTIALS_SECRET,
                    namespace=namespace,
                    data={
                        "access-key-id": config.backup_access_key_id,
                        "secret-access-key": config.backup_secret_access_key.get_secret_value(),
                        "region": config.backup_region,
                    },
                    opts=self.child_opts(),
                )
            )
        database = custom_resource(
            "registry-db",
            manifests.cluster(config, placement, namespace),
            # Read once, when the cluster is created: a restored cluster keeps its `recovery`
            # bootstrap and its source (python -m stacks.registry_restore).
            pulumi.ResourceOptions.merge(
                self.child_opts(depends_on=waits_on),
                pulumi.ResourceOptions(ignore_changes=["spec.bootstrap", "spec.externalClusters"]),
            ),
        )
        if config.uses_pod_identity:
            # Only where backups reach S3 through EKS Pod Identity: the agent on the node.
            k8s.networking.v1.NetworkPolicy(
                "registry-db-pod-identity",
                metadata={"name": "allow-registry-db-pod-identity", "namespace": namespace},
                spec={
                    "podSelector": DATABASE_PODS,
                    "policyTypes": ["Egress"],
                    "egress": [{"to": POD_IDENTITY_AGENT, "ports": tcp(80)}],
                },
                opts=self.child_opts(),
            )
        if config.registry_backups:
            custom_resource(
                "registry-db-scheduled-backup",
                manifests.scheduled_backup(config, namespace),
                self.child_opts(depends_on=[database]),
            )
        after_monitoring = self.child_opts(depends_on=monitoring_ready)
        custom_resource("registry-db-pod-monitor", pod_monitor(namespace), after_monitoring)
        if config.registry_backups:
            custom_resource(
                "registry-db-backup-alerts",
                prometheus_rule(namespace, stale_after_hours=config.backup_alert_after_hours),
                after_monitoring,
            )
        self.ready = database
        self.register_outputs({"host": self.host})

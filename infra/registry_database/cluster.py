"""The CloudNativePG `Cluster` of the registry, its backup schedule and the objects a backup or a
point-in-time restore creates: config in, plain manifests out.

Field names and behaviour: cloudnative-pg v1.30.0 api/v1/cluster_types.go,
api/v1/scheduledbackup_types.go, api/v1/backup_types.go and the CRDs the chart installs
(cloudnative-pg/charts tag cloudnative-pg-v0.29.0, templates/crds/crds.yaml).
"""

from dataclasses import dataclass

from infra.registry_database.config import RegistryDatabaseConfig

API_VERSION = "postgresql.cnpg.io/v1"
CLUSTER = "registry-db"
"""The Cluster's name: the operator names its Services `<cluster>-rw`, `-ro`, `-r`, its pods
`<cluster>-<n>` and labels them `cnpg.io/cluster: <cluster>` (pkg/utils/labels_annotations.go
`ClusterLabelName`)."""
DATABASE = "mlflow"
OWNER = "mlflow"
PORT = 5432
STATUS_PORT = 8000
"""The instance manager's status endpoint, called by the operator (pkg/management/url/url.go)."""
METRICS_PORT = 9187
"""Container port `metrics` of every instance (pkg/specs/pods.go, url.PostgresMetricsPort)."""
CLUSTER_LABEL = "cnpg.io/cluster"
APP_SECRET = f"{CLUSTER}-app-credentials"
SERVER_TLS_SECRET = f"{CLUSTER}-server-tls"
BACKUP_CREDENTIALS_SECRET = f"{CLUSTER}-backup-credentials"
RELOAD_LABEL = "cnpg.io/reload"
"""Secrets labelled with it are reloaded by the instances when they change (a renewed
certificate; docs/src/certificates.md, "User-provided certificates mode")."""


def host(namespace: str) -> str:
    """The read-write Service: always the current primary."""
    return f"{CLUSTER}-rw.{namespace}.svc"


def database_uri(password: str, host: str, ca_file: str) -> str:
    """MLflow's backend store URI: the owner over verify-full TLS against the platform CA."""
    return (
        f"postgresql://{OWNER}:{password}@{host}:{PORT}"
        f"/{DATABASE}?sslmode=verify-full&sslrootcert={ca_file}"
    )


def server_dns_names(namespace: str) -> list[str]:
    """Every name a client or a standby may use for the cluster's Services."""
    return [
        f"{CLUSTER}-{service}{suffix}"
        for service in ("rw", "ro", "r")
        for suffix in ("", f".{namespace}", f".{namespace}.svc", f".{namespace}.svc.cluster.local")
    ]


@dataclass(frozen=True)
class Placement:
    """Where the instances keep their data and how they are sized."""

    storage_class: str | None
    resources: dict


def barman_object_store(config: RegistryDatabaseConfig, server_name: str) -> dict:
    """The in-tree barman-cloud object store: WAL and base backups, gzip-compressed, under
    `destination_path/<server_name>`."""
    store: dict = {
        "destinationPath": config.destination_path,
        "serverName": server_name,
        "s3Credentials": _s3_credentials(config),
        "wal": {"compression": "gzip", "maxParallel": 2},
        "data": {"compression": "gzip"},
    }
    if config.backup_endpoint_url:
        store["endpointURL"] = config.backup_endpoint_url
    return store


def _s3_credentials(config: RegistryDatabaseConfig) -> dict:
    if config.backup_secret_access_key is None:
        return {"inheritFromIAMRole": True}
    return {
        "accessKeyId": {"name": BACKUP_CREDENTIALS_SECRET, "key": "access-key-id"},
        "secretAccessKey": {"name": BACKUP_CREDENTIALS_SECRET, "key": "secret-access-key"},
        "region": {"name": BACKUP_CREDENTIALS_SECRET, "key": "region"},
    }


def cluster_spec(config: RegistryDatabaseConfig, placement: Placement) -> dict:
    """Everything but `bootstrap`: instances, TLS, access rules, storage and backups."""
    storage: dict = {"size": config.postgres_storage_size}
    if placement.storage_class:
        storage["storageClass"] = placement.storage_class
    spec: dict = {
        "instances": config.postgres_instances,
        "imageName": config.postgres_image,
        "primaryUpdateStrategy": "unsupervised",
        # The superuser's password Secret is not created; the operator still manages the
        # cluster through the local socket (peer map in the fixed pg_hba rules).
        "enableSuperuserAccess": False,
        "certificates": {
            "serverTLSSecret": SERVER_TLS_SECRET,
            # cert-manager's Secret carries the issuing CA as `ca.crt`, the key CNPG reads.
            "serverCASecret": SERVER_TLS_SECRET,
        },
        "postgresql": {
            "parameters": {"ssl_min_protocol_version": "TLSv1.2"},
            # Before the operator's `host all all all scram-sha-256`: nothing without TLS
            # (pkg/postgres/configuration.go hbaTemplateString puts user rules first).
            "pg_hba": ["hostnossl all all all reject"],
        },
        "storage": storage,
        "resources": placement.resources,
        # Standbys on other nodes where there are other nodes (kind has one).
        "affinity": {"enablePodAntiAffinity": True, "podAntiAffinityType": "preferred"},
    }
    if config.backup_role_arn:
        spec["serviceAccountTemplate"] = {
            "metadata": {"annotations": {"eks.amazonaws.com/role-arn": config.backup_role_arn}}
        }
    if config.registry_backups:
        spec["backup"] = {
            "barmanObjectStore": barman_object_store(config, config.backup_server_name),
            "retentionPolicy": config.backup_retention,
        }
    return spec


def cluster(config: RegistryDatabaseConfig, placement: Placement, namespace: str) -> dict:
    """A new, empty registry database owned by `mlflow` (its password from APP_SECRET)."""
    spec = cluster_spec(config, placement)
    spec["bootstrap"] = {
        "initdb": {"database": DATABASE, "owner": OWNER, "secret": {"name": APP_SECRET}}
    }
    return _object("Cluster", CLUSTER, namespace, spec)


def recovery_cluster(
    config: RegistryDatabaseConfig,
    placement: Placement,
    namespace: str,
    *,
    source_server: str,
    target_time: str,
) -> dict:
    """The registry's Cluster on fresh volumes, recovered from `source_server`'s base backup
    and WAL up to `target_time` (RFC 3339), then archiving under `config.backup_server_name`,
    which must differ: the archive it was restored from is never written to."""
    if source_server == config.backup_server_name:
        raise ValueError(
            f"the restored database would archive into {source_server!r}, the archive it is "
            "restored from; give it a new backupServerName"
        )
    spec = cluster_spec(config, placement)
    spec["bootstrap"] = {
        "recovery": {
            "source": source_server,
            "database": DATABASE,
            "owner": OWNER,
            "secret": {"name": APP_SECRET},
            "recoveryTarget": {"targetTime": target_time},
        }
    }
    spec["externalClusters"] = [
        {"name": source_server, "barmanObjectStore": barman_object_store(config, source_server)}
    ]
    return _object("Cluster", CLUSTER, namespace, spec)


def scheduled_backup(config: RegistryDatabaseConfig, namespace: str) -> dict:
    """The base backup on `backupSchedule`, one right away when created; WAL is archived
    continuously in between, so any time after the first base backup can be restored."""
    return _object(
        "ScheduledBackup",
        f"{CLUSTER}-daily",
        namespace,
        {
            "schedule": config.backup_schedule,
            "immediate": True,
            "backupOwnerReference": "self",
            "method": "barmanObjectStore",
            "cluster": {"name": CLUSTER},
        },
    )


def on_demand_backup(name: str, namespace: str) -> dict:
    """A one-off base backup (what the schema upgrade takes before it runs)."""
    return _object(
        "Backup", name, namespace, {"method": "barmanObjectStore", "cluster": {"name": CLUSTER}}
    )


def _object(kind: str, name: str, namespace: str, spec: dict) -> dict:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "mlops-platform"},
        },
        "spec": spec,
    }

"""PostgreSQL for MLflow's tracking, registry and user stores, as plain manifests: TLS only
(`hostssl` in its pg_hba.conf) with a certificate from the platform CA, whose Secret's `ca.crt`
is what clients verify against. Names of other objects come in as arguments, so the same
builders serve the Pulumi component and the tests."""

from typing import Any

from infra.mlflow.config import (
    MLFLOW,
    POSTGRES_PORT,
    POSTGRES_TLS_SECRET,
    POSTGRES_UID,
    MlflowConfig,
)
from infra.workloads import (
    CONTAINER_SECURITY_CONTEXT,
    checkov_skips,
    pod_security_context,
    resources,
    scratch_volume,
)

LABELS = {"app.kubernetes.io/name": "postgres"}


def database_uri(password: str, host: str, ca_file: str) -> str:
    """The backend store URI: verify-full TLS against the platform CA."""
    return (
        f"postgresql://mlflow:{password}@{host}:{POSTGRES_PORT}"
        f"/mlflow?sslmode=verify-full&sslrootcert={ca_file}"
    )


def hba_config_map() -> dict:
    """`pg_hba.conf`: the socket is the pod's own (entrypoint init, pg_isready); everything over
    the network must be TLS with a SCRAM password."""
    return {
        "metadata": {"name": "postgres-hba", "namespace": MLFLOW, "labels": dict(LABELS)},
        "data": {"pg_hba.conf": "local all all trust\nhostssl all all all scram-sha-256\n"},
    }


def claim_spec(size: str, storage_class: str | None) -> dict:
    claim: dict = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if storage_class:
        claim["storageClassName"] = storage_class
    return claim


def statefulset(
    config: MlflowConfig,
    *,
    persistent: bool,
    storage_class: str | None,
    password_secret: Any,
    hba_config_map: Any,
) -> dict:
    """The database's StatefulSet (`metadata` and `spec`); `password_secret` and
    `hba_config_map` are the names of the Secret and ConfigMap it mounts."""
    spec: dict = {
        "serviceName": "postgres",
        "replicas": 1,
        "selector": {"matchLabels": LABELS},
        "template": {
            "metadata": {"labels": LABELS},
            "spec": {
                "securityContext": pod_security_context(POSTGRES_UID),
                "automountServiceAccountToken": False,
                "containers": [
                    {
                        "name": "postgres",
                        "image": config.postgres_image,
                        "args": [
                            "postgres",
                            "-c",
                            "ssl=on",
                            "-c",
                            "ssl_cert_file=/etc/postgres-tls/tls.crt",
                            "-c",
                            "ssl_key_file=/etc/postgres-tls/tls.key",
                            "-c",
                            "ssl_min_protocol_version=TLSv1.2",
                            "-c",
                            "hba_file=/etc/postgres-hba/pg_hba.conf",
                        ],  # fmt: skip
                        "ports": [{"name": "postgres", "containerPort": POSTGRES_PORT}],
                        "env": [
                            {"name": "POSTGRES_USER", "value": "mlflow"},
                            {"name": "POSTGRES_DB", "value": "mlflow"},
                            {"name": "PGDATA", "value": "/data/pgdata"},
                            # The image reads the password from this file at first start.
                            {
                                "name": "POSTGRES_PASSWORD_FILE",
                                "value": "/etc/postgres-password/password",
                            },
                        ],
                        "resources": resources("100m", "256Mi", "1", "1Gi"),
                        "readinessProbe": {
                            "exec": {"command": ["pg_isready", "-U", "mlflow", "-d", "mlflow"]},
                            "periodSeconds": 10,
                        },
                        "livenessProbe": {
                            "exec": {"command": ["pg_isready", "-U", "mlflow", "-d", "mlflow"]},
                            "initialDelaySeconds": 30,
                            "periodSeconds": 20,
                        },
                        "securityContext": CONTAINER_SECURITY_CONTEXT,
                        "volumeMounts": [
                            {"name": "data", "mountPath": "/data"},
                            {"name": "tmp", "mountPath": "/tmp"},
                            {"name": "run", "mountPath": "/var/run/postgresql"},
                            {"name": "tls", "mountPath": "/etc/postgres-tls", "readOnly": True},
                            {"name": "hba", "mountPath": "/etc/postgres-hba", "readOnly": True},
                            {
                                "name": "password",
                                "mountPath": "/etc/postgres-password",
                                "readOnly": True,
                            },
                        ],
                    }
                ],
                "volumes": [
                    scratch_volume(),
                    scratch_volume("run", "16Mi"),
                    # Owned by root, group postgres (fsGroup), 0640: the key permissions
                    # PostgreSQL accepts for a root-owned key file.
                    {
                        "name": "tls",
                        "secret": {"secretName": POSTGRES_TLS_SECRET, "defaultMode": 0o640},
                    },
                    {"name": "hba", "configMap": {"name": hba_config_map}},
                    {
                        "name": "password",
                        "secret": {"secretName": password_secret, "defaultMode": 0o440},
                    },
                ],
            },
        },
    }
    if persistent:
        spec["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data"},
                "spec": claim_spec(config.postgres_storage_size, storage_class),
            }
        ]
    else:
        spec["template"]["spec"]["volumes"].append(
            scratch_volume("data", config.postgres_storage_size)
        )
    return {
        "metadata": {
            "name": "postgres",
            "namespace": MLFLOW,
            "labels": LABELS,
            "annotations": checkov_skips(
                CKV_K8S_40="uid 999 is the official image's postgres user, which owns the "
                "files its entrypoint creates; it is non-root and the pod runs restricted"
            ),
        },
        "spec": spec,
    }


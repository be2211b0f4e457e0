"""The MLflow server and its access Job as plain manifests: `mlflow server --app-name
platform-auth` behind basic auth, the Job that applies users and grants before any server
starts, and what both mount. Secret and ConfigMap names come in as arguments (in the program
they are Pulumi outputs, passed through untouched)."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.deployments.versions import DeclaredVersion
from infra.internal_tls import server_tls_mount, server_tls_volume, uvicorn_tls_options
from infra.mlflow.auth import (
    ACCESS_SCRIPT,
    AUTH_APP_NAME,
    MlflowUsers,
    auth_app_files,
    platform_rules_env,
    served_versions_json,
)
from infra.mlflow.config import (
    ARTIFACTS_DIR,
    AUTH_APP_DIR,
    AUTH_CONFIG,
    IRSA_ROLE_ANNOTATION,
    MLFLOW,
    MLFLOW_PORT,
    MLFLOW_TLS_SECRET,
    MLFLOW_UID,
    SERVED_VERSIONS_DIR,
    SERVED_VERSIONS_FILE,
    SERVER_OVERHEAD_MIB,
    SERVICE_ACCOUNT,
    WORKER_MIB,
    MlflowConfig,
)
from infra.registry_database import cluster as registry_db
from infra.workloads import (
    CONTAINER_SECURITY_CONTEXT,
    SECRETS_AS_ENV_REASON,
    checkov_skips,
    http_probe,
    pod_security_context,
    resources,
    scratch_volume,
    secret_env,
)

LABELS = {"app.kubernetes.io/name": "mlflow"}
ACCESS_LABELS = {"app.kubernetes.io/name": "mlflow-access"}
SERVED_VERSIONS_MAP = "mlflow-served-versions"
BACKUP_WAIT_S = 900
"""How long the schema upgrade waits for its pre-upgrade base backup before refusing."""
BACKUP_GATE_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "registry_backup_gate.py"
BACKUP_ACCOUNT = "mlflow-schema-upgrade"
CREDENTIALS_DIGEST = "mlops-platform/credentials-digest"
"""Pod-template annotation carrying a digest of the credentials: a change re-runs the access Job
and restarts the servers."""


@dataclass(frozen=True)
class Mounts:
    """Environment, volumes and mounts a pod gets for one purpose."""

    env: list[dict]
    volumes: list[dict]
    mounts: list[dict]


def workload_skips(image: str, **more: str) -> dict[str, str]:
    """checkov skips of MLflow's workloads, with the reason for each."""
    reasons = {"CKV_K8S_35": SECRETS_AS_ENV_REASON, **more}
    if "@sha256:" not in image:
        reasons["CKV_K8S_43"] = (
            "mlflowImage is pinned by MLflow's release tag (no registry reachable to read its "
            "digest when it was chosen); set mlflowImage with @sha256:<digest> to pin it"
        )
    return checkov_skips(**reasons)


def common_mounts(server_secret: Any, database_ca_secret: Any) -> Mounts:
    """What the server and the access Job share: the backend store, the admin login, the
    basic-auth config and the CA the database's certificate is checked against."""
    return Mounts(
        env=[
            secret_env("MLFLOW_BACKEND_STORE_URI", server_secret, "backend-store-uri"),
            secret_env("MLFLOW_AUTH_ADMIN_PASSWORD", server_secret, "admin-password"),
            {"name": "MLFLOW_AUTH_CONFIG_PATH", "value": AUTH_CONFIG},
            {"name": "HOME", "value": "/tmp"},
        ],
        volumes=[
            scratch_volume(),
            {
                "name": "auth-config",
                "secret": {
                    "secretName": server_secret,
                    "items": [{"key": "basic_auth.ini", "path": "basic_auth.ini"}],
                    "defaultMode": 0o440,
                },
            },
            {
                "name": "postgres-ca",
                "secret": {
                    "secretName": database_ca_secret,
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                },
            },
        ],
        mounts=[
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "auth-config", "mountPath": "/etc/mlflow-auth", "readOnly": True},
            {"name": "postgres-ca", "mountPath": "/etc/postgres-ca", "readOnly": True},
        ],
    )


def destination(config: MlflowConfig) -> str:
    """Where the server puts artifacts: the S3 bucket, or its volume."""
    if config.artifact_store == "s3":
        return f"s3://{config.artifact_bucket}/artifacts"
    return ARTIFACTS_DIR


def artifact_store(
    config: MlflowConfig, *, volume: dict | None = None, s3_secret: Any = None
) -> Mounts:
    """The server's mounts for its artifact store: `volume` (a claim or scratch volume named
    `artifacts`) for the volume store; for S3 the region, endpoint and, with a static key, the
    Secret `s3_secret` holding it."""
    if config.artifact_store == "volume":
        assert volume is not None, "the volume store needs its volume"
        return Mounts([], [volume], [{"name": "artifacts", "mountPath": ARTIFACTS_DIR}])
    env = [{"name": "AWS_DEFAULT_REGION", "value": config.s3_region}]
    if config.s3_endpoint_url:
        env.append({"name": "MLFLOW_S3_ENDPOINT_URL", "value": config.s3_endpoint_url})
    if s3_secret is not None:
        env += [
            secret_env("AWS_ACCESS_KEY_ID", s3_secret, "access-key-id"),
            secret_env("AWS_SECRET_ACCESS_KEY", s3_secret, "secret-access-key"),
        ]
    return Mounts(env, [], [])


def artifact_claim(claim_spec: dict) -> dict:
    """The artifacts' PersistentVolumeClaim (`metadata` and `spec`)."""
    return {
        "metadata": {
            "name": "mlflow-artifacts",
            "namespace": MLFLOW,
            # Pulumi would wait for a WaitForFirstConsumer claim to bind, which it only does
            # once the server that mounts it is scheduled.
            "annotations": {"pulumi.com/skipAwait": "true"},
        },
        "spec": claim_spec,
    }


def service_account(config: MlflowConfig) -> dict:
    """The server's own identity: what an EKS Pod Identity association names, or what IRSA's
    role trusts (annotated with the role)."""
    annotations = {}
    if config.ambient_credentials == "irsa":
        annotations[IRSA_ROLE_ANNOTATION] = config.s3_role_arn
    return {
        "metadata": {"name": SERVICE_ACCOUNT, "namespace": MLFLOW, "annotations": annotations},
        "automount_service_account_token": False,
    }


def service(name: str, labels: dict, protocol: str, port: int) -> dict:
    """A Service in MLflow's namespace whose port name tells Istio the protocol (`https-...`,
    `tcp-...`)."""
    return {
        "metadata": {"name": name, "namespace": MLFLOW, "labels": labels},
        "spec": {
            "selector": labels,
            "ports": [{"name": f"{protocol}-{name}", "port": port, "targetPort": port}],
        },
    }


def auth_app(config: MlflowConfig) -> tuple[dict, dict]:
    """The ConfigMap of `auth_app_files()` and the `items` a volume maps them back with:
    ConfigMap keys cannot hold `/`, so each file gets a flat key and its path back through
    `items`. Named after the files' digest: a change rolls the servers."""
    files = auth_app_files()
    keys = {path: path.replace("/", "__") for path in files}
    revision = hashlib.sha256("\0".join(files.values()).encode()).hexdigest()[:10]
    config_map = {
        "metadata": {
            "name": f"mlflow-auth-app-{revision}",
            "namespace": MLFLOW,
            "labels": {"app.kubernetes.io/name": "mlflow"},
            "annotations": workload_skips(config.mlflow_image),
        },
        "data": {keys[path]: text for path, text in files.items()},
    }
    return config_map, [{"key": keys[path], "path": path} for path in files]


def served_versions_config_map(versions: Iterable[DeclaredVersion]) -> dict:
    """The auth app's served-versions list (`metadata` and `data`): the pinned version of every
    predictor, the shadows' compare models and batch scoring included. One name for every
    revision: the kubelet refreshes the mounted file in place (within its sync period, about a
    minute) and the app reads it on every request, so a new version is readable without
    restarting MLflow; a predictor pod that asks before then fails its download and is
    restarted."""
    listed = served_versions_json((v.model, v.version) for v in versions)
    return {
        "metadata": {"name": SERVED_VERSIONS_MAP, "namespace": MLFLOW, "labels": LABELS},
        "data": {SERVED_VERSIONS_FILE: listed},
    }


def auth_app_volume(config_map: Any, items: list[dict]) -> dict:
    """The server's volume of the auth app; `config_map` names the ConfigMap of `auth_app`."""
    return {"name": "auth-app", "configMap": {"name": config_map, "items": items}}


def access_config_map(config: MlflowConfig, users: MlflowUsers, *, backup_first: bool) -> dict:
    """`infra/scripts/mlflow_access.py` and the access it applies (and, with `backup_first`,
    the backup gate), named after a digest of scripts, users and image: a change to any
    replaces the Job, which runs again."""
    data = {
        "mlflow_access.py": ACCESS_SCRIPT.read_text(),
        "access.json": users.access_spec_json(),
    }
    if backup_first:
        data["registry_backup_gate.py"] = BACKUP_GATE_SCRIPT.read_text()
    revision = hashlib.sha256(
        "\0".join([*data.values(), config.mlflow_image]).encode()
    ).hexdigest()[:10]
    return {
        "metadata": {
            "name": f"mlflow-access-{revision}",
            "namespace": MLFLOW,
            "labels": ACCESS_LABELS,
            "annotations": workload_skips(config.mlflow_image),
        },
        "data": data,
    }


def access_job(
    config: MlflowConfig,
    *,
    name: str,
    script: Any,
    mounts: Mounts,
    credentials_digest: Any,
    backup_account: Any = None,
) -> dict:
    """The Job running the access script in the MLflow image: schemas, admin, users, grants.
    `script` names the ConfigMap of `access_config_map`; `name` is its revisioned name. With a
    `backup_account` (the identity of `backup_account()`), the script runs only after an
    on-demand base backup named after this revision completed, and the Job fails otherwise."""
    command = ["python", "/opt/mlflow-access/mlflow_access.py", "/opt/mlflow-access/access.json"]
    pod_identity: dict = {"automountServiceAccountToken": False}
    skips: dict[str, str] = {}
    if backup_account is not None:
        revision = name.removeprefix("mlflow-access-")
        command = [
            "python", "/opt/mlflow-access/registry_backup_gate.py",
            "--cnpg-backup", f"{registry_db.CLUSTER}-pre-upgrade-{revision}",
            "--timeout", str(BACKUP_WAIT_S),
            "--", *command,
        ]  # fmt: skip
        pod_identity = {"serviceAccountName": backup_account, "automountServiceAccountToken": True}
        skips["CKV_K8S_38"] = (
            "the schema upgrade creates and reads its pre-upgrade Backup through the API server "
            f"(Role {BACKUP_ACCOUNT}, create and get on backups only)"
        )
    return {
        "metadata": {
            "name": name,
            "namespace": MLFLOW,
            "labels": ACCESS_LABELS,
            "annotations": workload_skips(config.mlflow_image, **skips),
        },
        "spec": {
            "backoffLimit": 6,
            # The upgrade's own 15 minutes, plus the backup it waits for first.
            "activeDeadlineSeconds": 900 + (BACKUP_WAIT_S if backup_account is not None else 0),
            "template": {
                "metadata": {
                    "labels": ACCESS_LABELS,
                    "annotations": {CREDENTIALS_DIGEST: credentials_digest},
                },
                "spec": {
                    "restartPolicy": "OnFailure",
                    "securityContext": pod_security_context(MLFLOW_UID),
                    **pod_identity,
                    "containers": [
                        {
                            "name": "access",
                            "image": config.mlflow_image,
                            "imagePullPolicy": "Always",
                            "command": command,
                            "env": mounts.env,
                            "resources": resources("100m", "256Mi", "1", "768Mi"),
                            "securityContext": CONTAINER_SECURITY_CONTEXT,
                            "volumeMounts": [
                                *mounts.mounts,
                                {
                                    "name": "access",
                                    "mountPath": "/opt/mlflow-access",
                                    "readOnly": True,
                                },
                            ],
                        }
                    ],
                    "volumes": [
                        *mounts.volumes,
                        {"name": "access", "configMap": {"name": script}},
                    ],
                },
            },
        },
    }


def server_deployment(
    config: MlflowConfig,
    *,
    server_secret: Any,
    service_account: Any,
    common: Mounts,
    store: Mounts,
    auth_app: dict,
    served_versions: Any,
    allowed_hosts: list[str],
    credentials_digest: Any,
    scoring_outputs: tuple[str, ...] = (),
) -> dict:
    """The MLflow server's Deployment (`metadata` and `spec`), serving only TLS with the
    certificate of Secret `MLFLOW_TLS_SECRET`; `served_versions` names the ConfigMap of
    `served_versions_config_map`."""
    return {
        "metadata": {
            "name": "mlflow",
            "namespace": MLFLOW,
            "labels": LABELS,
            "annotations": workload_skips(config.mlflow_image),
        },
        "spec": {
            "replicas": config.mlflow_replicas,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {
                    "labels": LABELS,
                    "annotations": {CREDENTIALS_DIGEST: credentials_digest},
                },
                "spec": {
                    "serviceAccountName": service_account,
                    "securityContext": pod_security_context(MLFLOW_UID),
                    # The API server is not MLflow's business; EKS's webhook projects its own
                    # AWS token volume whatever this says (IRSA and Pod Identity alike:
                    # aws/amazon-eks-pod-identity-webhook v0.6.9 pkg/handler/handler.go:
                    # 347-360, a projected serviceAccountToken with its own audience).
                    "automountServiceAccountToken": False,
                    "containers": [
                        {
                            "name": "mlflow",
                            "image": config.mlflow_image,
                            "imagePullPolicy": "Always",
                            "command": ["mlflow", "server"],
                            "args": [
                                "--app-name",
                                AUTH_APP_NAME,
                                "--host",
                                "0.0.0.0",
                                "--port",
                                str(MLFLOW_PORT),
                                "--workers",
                                str(config.workers),
                                "--serve-artifacts",
                                "--artifacts-destination",
                                destination(config),
                                "--uvicorn-opts",
                                uvicorn_tls_options(),
                            ],  # fmt: skip
                            "ports": [{"name": "https", "containerPort": MLFLOW_PORT}],
                            "env": [
                                *common.env,
                                secret_env(
                                    "MLFLOW_FLASK_SERVER_SECRET_KEY",
                                    server_secret,
                                    "flask-secret-key",
                                ),
                                {
                                    "name": "MLFLOW_SERVER_ALLOWED_HOSTS",
                                    "value": ",".join(allowed_hosts),
                                },
                                # GenAI job runners the platform never uses would each take a
                                # worker's worth of memory.
                                {"name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "value": "false"},
                                {"name": "PYTHONPATH", "value": AUTH_APP_DIR},
                                *(
                                    {"name": name, "value": value}
                                    for name, value in platform_rules_env(
                                        pipeline=config.mlflow_pipeline_user,
                                        serving=config.mlflow_serving_user,
                                        request_log=config.mlflow_request_log_user,
                                        scoring=config.mlflow_scoring_user,
                                        scoring_outputs=scoring_outputs,
                                        served_versions_path=(
                                            f"{SERVED_VERSIONS_DIR}/{SERVED_VERSIONS_FILE}"
                                        ),
                                    ).items()
                                ),
                                *store.env,
                            ],
                            "resources": resources(
                                "100m",
                                f"{SERVER_OVERHEAD_MIB + WORKER_MIB * config.workers}Mi",
                                config.mlflow_cpu_limit,
                                config.mlflow_memory_limit,
                            ),
                            "readinessProbe": http_probe("/health", "https", 10, "HTTPS"),
                            "livenessProbe": http_probe("/health", "https", 30, "HTTPS"),
                            "securityContext": CONTAINER_SECURITY_CONTEXT,
                            "volumeMounts": [
                                *common.mounts,
                                *store.mounts,
                                {"name": "auth-app", "mountPath": AUTH_APP_DIR, "readOnly": True},
                                {
                                    "name": "served-versions",
                                    "mountPath": SERVED_VERSIONS_DIR,
                                    "readOnly": True,
                                },
                                server_tls_mount(),
                            ],
                        }
                    ],
                    "volumes": [
                        *common.volumes,
                        *store.volumes,
                        auth_app,
                        {"name": "served-versions", "configMap": {"name": served_versions}},
                        server_tls_volume(MLFLOW_TLS_SECRET),
                    ],
                },
            },
        },
    }


def backup_account() -> dict[str, dict]:
    """The schema upgrade's ServiceAccount, Role and RoleBinding: it may create and read the
    registry's CloudNativePG Backups, nothing else."""
    metadata = {"name": BACKUP_ACCOUNT, "namespace": MLFLOW}
    return {
        "account": {"metadata": metadata, "automount_service_account_token": False},
        "role": {
            "metadata": metadata,
            "rules": [
                {
                    "apiGroups": ["postgresql.cnpg.io"],
                    "resources": ["backups"],
                    "verbs": ["create", "get"],
                }
            ],
        },
        "binding": {
            "metadata": metadata,
            "role_ref": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": BACKUP_ACCOUNT,
            },
            "subjects": [{"kind": "ServiceAccount", "name": BACKUP_ACCOUNT, "namespace": MLFLOW}],
        },
    }


def claim_spec(size: str, storage_class: str | None) -> dict:
    """A ReadWriteOnce claim of `size`, of `storage_class` when the stack names one."""
    claim: dict = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if storage_class:
        claim["storageClassName"] = storage_class
    return claim

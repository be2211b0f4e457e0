"""MLflow 3 tracking server and model registry behind its basic-auth app plus the platform's
write rules (`--app-name platform-auth`, `infra/scripts/mlflow_platform_auth.py`): PostgreSQL
(over TLS) for the tracking, registry and user stores, artifacts proxied by the server to a volume
(local/dev) or an external S3 bucket (prod), users and grants applied by a Job before any
server starts."""

import hashlib
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from infra.cert_manager.component import CertManager
from infra.component import PlatformComponent
from infra.mlflow.auth import (
    ACCESS_SCRIPT,
    AUTH_APP_NAME,
    PASSWORD_ENV,
    RELEASE_USERS_ENV,
    MlflowUsers,
    auth_app_files,
    basic_auth_ini,
)
from infra.mlflow.config import (
    ARTIFACTS_DIR,
    AUTH_APP_DIR,
    AUTH_CONFIG,
    IRSA_ROLE_ANNOTATION,
    MLFLOW,
    MLFLOW_PORT,
    MLFLOW_UID,
    POSTGRES_CA,
    SERVER_OVERHEAD_MIB,
    SERVICE_ACCOUNT,
    TRACKING_URI,
    WORKER_MIB,
    MlflowConfig,
)
from infra.registry_database import cluster as registry_db
from infra.registry_database.component import RegistryDatabase
from infra.registry_database.config import NAMESPACE as CNPG_SYSTEM
from infra.registry_database.config import RegistryDatabaseConfig
from infra.registry_database.sizing import RegistryDatabaseSizing
from infra.secrets import MlflowLogin, credentials_secret, generated_password
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

BACKUP_WAIT_S = 900
"""How long the schema upgrade waits for its pre-upgrade base backup before refusing."""
BACKUP_GATE_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "registry_backup_gate.py"


def _mlflow_workload_skips(image: str, **more: str) -> dict[str, str]:
    reasons = {"CKV_K8S_35": SECRETS_AS_ENV_REASON, **more}
    if "@sha256:" not in image:
        reasons["CKV_K8S_43"] = (
            "mlflowImage is pinned by MLflow's release tag (no registry reachable to read its "
            "digest when it was chosen); set mlflowImage with @sha256:<digest> to pin it"
        )
    return checkov_skips(**reasons)


class MlflowTracking(PlatformComponent):
    """Everything MLflow needs in the `mlflow` namespace. Every credential is generated (or, for
    an external store, a Pulumi secret) and reaches pods only through Secrets; `serving_login`
    and `pipeline_login` are handed to the components whose pods log in as those users."""

    tracking_uri: str = TRACKING_URI
    admin_password: pulumi.Output[str]
    serving_login: MlflowLogin
    pipeline_login: MlflowLogin

    def __init__(
        self,
        name: str,
        config: MlflowConfig,
        *,
        served_models: list[str],
        certificates: CertManager,
        database_config: RegistryDatabaseConfig,
        database_sizing: RegistryDatabaseSizing,
        monitoring_ready: list[pulumi.Resource],
        persistent: bool,
        storage_class: str | None,
        allowed_hosts: list[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:mlflow:MlflowTracking", name, opts)
        self._storage_class = storage_class
        self._persistent = persistent
        database_password = generated_password("mlflow-postgres-password", self.child_opts())
        database = RegistryDatabase(
            "registry-database",
            database_config,
            namespace=MLFLOW,
            operator_namespace=CNPG_SYSTEM,
            password=database_password,
            certificates=certificates,
            placement=registry_db.Placement(storage_class, database_sizing.instance),
            operator_resources=database_sizing.operator,
            monitoring_ready=monitoring_ready,
            opts=self.child_opts(),
        )
        self.admin_password = generated_password("mlflow-admin-password", self.child_opts())
        self.serving_login = MlflowLogin(
            config.mlflow_serving_user,
            generated_password("mlflow-serving-password", self.child_opts()),
        )
        self.pipeline_login = MlflowLogin(
            config.mlflow_pipeline_user,
            generated_password("mlflow-pipeline-password", self.child_opts()),
        )
        backend_uri = database_password.apply(
            lambda password: (
                f"postgresql://{registry_db.OWNER}:{password}@{database.host}:{registry_db.PORT}"
                f"/{registry_db.DATABASE}?sslmode=verify-full&sslrootcert={POSTGRES_CA}"
            )
        )
        server_secret = credentials_secret(
            "mlflow-server",
            namespace=MLFLOW,
            data={
                "backend-store-uri": backend_uri,
                # The user store shares the database: its tables and its alembic_version_auth
                # table do not collide with the tracking schema (mlflow/server/auth/db/utils.py).
                "basic_auth.ini": backend_uri.apply(
                    lambda uri: basic_auth_ini(uri, config.mlflow_admin_user)
                ),
                "admin-password": self.admin_password,
                "flask-secret-key": generated_password("mlflow-flask-secret", self.child_opts()),
                PASSWORD_ENV["serving"]: self.serving_login.password,
                PASSWORD_ENV["pipeline"]: self.pipeline_login.password,
            },
            opts=self.child_opts(),
        )
        secret_name = server_secret.metadata["name"]
        store_env, store_volumes, store_mounts = self._artifact_store(config)
        account = self._service_account(config)
        common_env = [
            secret_env("MLFLOW_BACKEND_STORE_URI", secret_name, "backend-store-uri"),
            secret_env("MLFLOW_AUTH_ADMIN_PASSWORD", secret_name, "admin-password"),
            {"name": "MLFLOW_AUTH_CONFIG_PATH", "value": AUTH_CONFIG},
            {"name": "HOME", "value": "/tmp"},
        ]
        common_volumes = [
            scratch_volume(),
            {
                "name": "auth-config",
                "secret": {
                    "secretName": secret_name,
                    "items": [{"key": "basic_auth.ini", "path": "basic_auth.ini"}],
                    "defaultMode": 0o440,
                },
            },
            {
                "name": "postgres-ca",
                "secret": {
                    "secretName": database.ca_secret,
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                },
            },
        ]
        common_mounts = [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "auth-config", "mountPath": "/etc/mlflow-auth", "readOnly": True},
            {"name": "postgres-ca", "mountPath": "/etc/postgres-ca", "readOnly": True},
        ]
        # A credentials change must re-run the access Job and restart the servers: a digest of
        # the secret values in their pod templates does both. It is not secret itself (SHA-256
        # of 32 random characters), and left secret it would hide the whole pod spec.
        credentials_digest = pulumi.Output.unsecret(
            pulumi.Output.all(
                backend_uri,
                self.admin_password,
                self.serving_login.password,
                self.pipeline_login.password,
            ).apply(lambda values: hashlib.sha256("\0".join(values).encode()).hexdigest())
        )
        users = MlflowUsers(
            serving=config.mlflow_serving_user,
            pipeline=config.mlflow_pipeline_user,
            served_models=tuple(served_models),
        )
        access = self._access_job(
            config,
            users,
            env=[
                *common_env,
                *(secret_env(env, secret_name, env) for env in PASSWORD_ENV.values()),
                *store_env,
            ],
            volumes=common_volumes,
            mounts=common_mounts,
            credentials_digest=credentials_digest,
            backup_first=database_config.registry_backups,
            after=[database.ready],
        )
        labels = {"app.kubernetes.io/name": "mlflow"}
        auth_app = self._auth_app(config)
        k8s.apps.v1.Deployment(
            "mlflow",
            metadata={
                "name": "mlflow",
                "namespace": MLFLOW,
                "labels": labels,
                "annotations": _mlflow_workload_skips(config.mlflow_image),
            },
            spec={
                "replicas": config.mlflow_replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {"mlops-platform/credentials-digest": credentials_digest},
                    },
                    "spec": {
                        "serviceAccountName": account.metadata["name"],
                        "securityContext": pod_security_context(MLFLOW_UID),
                        # The API server is not MLflow's business; EKS's webhook projects its
                        # own AWS token volume whatever this says (IRSA and Pod Identity alike:
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
                                    self._destination(config),
                                ],  # fmt: skip
                                "ports": [{"name": "http", "containerPort": MLFLOW_PORT}],
                                "env": [
                                    *common_env,
                                    secret_env(
                                        "MLFLOW_FLASK_SERVER_SECRET_KEY",
                                        secret_name,
                                        "flask-secret-key",
                                    ),
                                    {
                                        "name": "MLFLOW_SERVER_ALLOWED_HOSTS",
                                        "value": ",".join(allowed_hosts),
                                    },
                                    # GenAI job runners the platform never uses would each take
                                    # a worker's worth of memory.
                                    {
                                        "name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION",
                                        "value": "false",
                                    },
                                    {"name": "PYTHONPATH", "value": AUTH_APP_DIR},
                                    {
                                        "name": RELEASE_USERS_ENV,
                                        "value": config.mlflow_pipeline_user,
                                    },
                                    *store_env,
                                ],
                                "resources": resources(
                                    "100m",
                                    f"{SERVER_OVERHEAD_MIB + WORKER_MIB * config.workers}Mi",
                                    config.mlflow_cpu_limit,
                                    config.mlflow_memory_limit,
                                ),
                                "readinessProbe": http_probe("/health", "http", 10),
                                "livenessProbe": http_probe("/health", "http", 30),
                                "securityContext": CONTAINER_SECURITY_CONTEXT,
                                "volumeMounts": [
                                    *common_mounts,
                                    *store_mounts,
                                    {
                                        "name": "auth-app",
                                        "mountPath": AUTH_APP_DIR,
                                        "readOnly": True,
                                    },
                                ],
                            }
                        ],
                        "volumes": [*common_volumes, *store_volumes, auth_app],
                    },
                },
            },
            opts=self.child_opts(depends_on=[access]),
        )
        self._service("mlflow", labels, "http", MLFLOW_PORT)
        self.register_outputs({"tracking_uri": self.tracking_uri})

    def _auth_app(self, config: MlflowConfig) -> dict:
        """The volume carrying `auth_app_files()` (ConfigMap keys cannot hold `/`, so each
        file gets a flat key and its path back through `items`). Named after their digest: a
        change rolls the servers."""
        files = auth_app_files()
        keys = {path: path.replace("/", "__") for path in files}
        revision = hashlib.sha256("\0".join(files.values()).encode()).hexdigest()[:10]
        config_map = k8s.core.v1.ConfigMap(
            "mlflow-auth-app",
            metadata={
                "name": f"mlflow-auth-app-{revision}",
                "namespace": MLFLOW,
                "labels": {"app.kubernetes.io/name": "mlflow"},
                "annotations": _mlflow_workload_skips(config.mlflow_image),
            },
            data={keys[path]: text for path, text in files.items()},
            opts=self.child_opts(),
        )
        return {
            "name": "auth-app",
            "configMap": {
                "name": config_map.metadata["name"],
                "items": [{"key": keys[path], "path": path} for path in files],
            },
        }

    def _access_job(
        self,
        config: MlflowConfig,
        users: MlflowUsers,
        *,
        env: list[dict],
        volumes: list[dict],
        mounts: list[dict],
        credentials_digest: pulumi.Output[str],
        backup_first: bool,
        after: list[pulumi.Resource],
    ) -> k8s.batch.v1.Job:
        """`infra/scripts/mlflow_access.py` in the MLflow image: schemas, admin, users, grants.

        The ConfigMap and the Job are named after a digest of script, users and image, so a
        change to any replaces the Job and runs it again (as does a credentials change, through
        the pod template); Pulumi waits for it to complete.
        """
        data = {
            "mlflow_access.py": ACCESS_SCRIPT.read_text(),
            "access.json": users.access_spec_json(),
        }
        command = [
            "python",
            "/opt/mlflow-access/mlflow_access.py",
            "/opt/mlflow-access/access.json",
        ]
        if backup_first:
            data["registry_backup_gate.py"] = BACKUP_GATE_SCRIPT.read_text()
        revision = hashlib.sha256(
            "\0".join([*data.values(), config.mlflow_image]).encode()
        ).hexdigest()[:10]
        pod_identity: dict = {"automountServiceAccountToken": False}
        if backup_first:
            # `mlflow db upgrade` runs only after a base backup of this revision completed.
            command = [
                "python", "/opt/mlflow-access/registry_backup_gate.py",
                "--cnpg-backup", f"{registry_db.CLUSTER}-pre-upgrade-{revision}",
                "--timeout", str(BACKUP_WAIT_S),
                "--", *command,
            ]  # fmt: skip
            account = self._backup_account()
            pod_identity = {
                "serviceAccountName": account.metadata["name"],
                "automountServiceAccountToken": True,
            }
        labels = {"app.kubernetes.io/name": "mlflow-access"}
        script = k8s.core.v1.ConfigMap(
            "mlflow-access",
            metadata={
                "name": f"mlflow-access-{revision}",
                "namespace": MLFLOW,
                "labels": labels,
                "annotations": _mlflow_workload_skips(config.mlflow_image),
            },
            data=data,
            opts=self.child_opts(),
        )
        token_reason = (
            {"CKV_K8S_38": "the schema upgrade creates and reads its pre-upgrade Backup through "
             "the API server (Role mlflow-schema-upgrade, create and get on backups only)"}
            if backup_first else {}
        )  # fmt: skip
        return k8s.batch.v1.Job(
            "mlflow-access",
            metadata={
                "name": f"mlflow-access-{revision}",
                "namespace": MLFLOW,
                "labels": labels,
                "annotations": _mlflow_workload_skips(config.mlflow_image, **token_reason),
            },
            spec={
                "backoffLimit": 6,
                # The upgrade's own 15 minutes, plus the backup it waits for first.
                "activeDeadlineSeconds": 900 + (BACKUP_WAIT_S if backup_first else 0),
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {"mlops-platform/credentials-digest": credentials_digest},
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
                                "env": env,
                                "resources": resources("100m", "256Mi", "1", "768Mi"),
                                "securityContext": CONTAINER_SECURITY_CONTEXT,
                                "volumeMounts": [
                                    *mounts,
                                    {
                                        "name": "access",
                                        "mountPath": "/opt/mlflow-access",
                                        "readOnly": True,
                                    },
                                ],
                            }
                        ],
                        "volumes": [
                            *volumes,
                            {"name": "access", "configMap": {"name": script.metadata["name"]}},
                        ],
                    },
                },
            },
            opts=self.child_opts(depends_on=after),
        )

    def _backup_account(self) -> k8s.core.v1.ServiceAccount:
        """The schema upgrade's identity: it may create and read the registry's Backups,
        nothing else."""
        name = "mlflow-schema-upgrade"
        account = k8s.core.v1.ServiceAccount(
            name,
            metadata={"name": name, "namespace": MLFLOW},
            automount_service_account_token=False,
            opts=self.child_opts(),
        )
        role = k8s.rbac.v1.Role(
            name,
            metadata={"name": name, "namespace": MLFLOW},
            rules=[
                {
                    "apiGroups": ["postgresql.cnpg.io"],
                    "resources": ["backups"],
                    "verbs": ["create", "get"],
                }
            ],
            opts=self.child_opts(),
        )
        k8s.rbac.v1.RoleBinding(
            name,
            metadata={"name": name, "namespace": MLFLOW},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            subjects=[{"kind": "ServiceAccount", "name": name, "namespace": MLFLOW}],
            opts=self.child_opts(depends_on=[role]),
        )
        return account

    def _service_account(self, config: MlflowConfig) -> k8s.core.v1.ServiceAccount:
        """The server's own identity: what an EKS Pod Identity association names, or what IRSA's
        role trusts (annotated with the role)."""
        annotations = {}
        if config.ambient_credentials == "irsa":
            annotations[IRSA_ROLE_ANNOTATION] = config.s3_role_arn
        return k8s.core.v1.ServiceAccount(
            "mlflow-service-account",
            metadata={"name": SERVICE_ACCOUNT, "namespace": MLFLOW, "annotations": annotations},
            automount_service_account_token=False,
            opts=self.child_opts(),
        )

    def _service(self, name: str, labels: dict, protocol: str, port: int) -> k8s.core.v1.Service:
        """A Service whose port name tells Istio the protocol (`http-...`, `tcp-...`)."""
        return k8s.core.v1.Service(
            name,
            metadata={"name": name, "namespace": MLFLOW, "labels": labels},
            spec={
                "selector": labels,
                "ports": [{"name": f"{protocol}-{name}", "port": port, "targetPort": port}],
            },
            opts=self.child_opts(),
        )

    def _claim_spec(self, size: str) -> dict:
        claim: dict = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
        }
        if self._storage_class:
            claim["storageClassName"] = self._storage_class
        return claim

    @staticmethod
    def _destination(config: MlflowConfig) -> str:
        if config.artifact_store == "s3":
            return f"s3://{config.artifact_bucket}/artifacts"
        return ARTIFACTS_DIR

    def _artifact_store(self, config: MlflowConfig) -> tuple[list[dict], list[dict], list[dict]]:
        """(env, volumes, mounts) of the server for its artifact store."""
        if config.artifact_store == "volume":
            if self._persistent:
                claim = k8s.core.v1.PersistentVolumeClaim(
                    "mlflow-artifacts",
                    metadata={
                        "name": "mlflow-artifacts",
                        "namespace": MLFLOW,
                        # Pulumi would wait for a WaitForFirstConsumer claim to bind, which it
                        # only does once the server that mounts it is scheduled.
                        "annotations": {"pulumi.com/skipAwait": "true"},
                    },
                    spec=self._claim_spec(config.artifact_storage_size),
                    opts=self.child_opts(),
                )
                volume = {
                    "name": "artifacts",
                    "persistentVolumeClaim": {"claimName": claim.metadata["name"]},
                }
            else:
                volume = scratch_volume("artifacts", config.artifact_storage_size)
            return [], [volume], [{"name": "artifacts", "mountPath": ARTIFACTS_DIR}]
        env = [{"name": "AWS_DEFAULT_REGION", "value": config.s3_region}]
        if config.s3_endpoint_url:
            env.append({"name": "MLFLOW_S3_ENDPOINT_URL", "value": config.s3_endpoint_url})
        if config.s3_secret_access_key is not None:
            secret = credentials_secret(
                "mlflow-s3",
                namespace=MLFLOW,
                data={
                    "access-key-id": config.s3_access_key_id,
                    "secret-access-key": config.s3_secret_access_key.get_secret_value(),
                },
                opts=self.child_opts(),
            )
            env += [
                secret_env("AWS_ACCESS_KEY_ID", secret.metadata["name"], "access-key-id"),
                secret_env("AWS_SECRET_ACCESS_KEY", secret.metadata["name"], "secret-access-key"),
            ]
        return env, [], []

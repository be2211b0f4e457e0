"""MLflow 3 tracking server and model registry behind its basic-auth app plus the platform's
write rules (`--app-name platform-auth`, `infra/scripts/mlflow_platform_auth.py`): PostgreSQL
(over TLS) for the tracking, registry and user stores, artifacts proxied by the server to a volume
(local/dev) or an external S3 bucket (prod), users and grants applied by a Job before any
server starts."""

import hashlib

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
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_TLS_SECRET,
    POSTGRES_UID,
    SERVER_OVERHEAD_MIB,
    SERVICE_ACCOUNT,
    TRACKING_URI,
    WORKER_MIB,
    MlflowConfig,
)
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


def _mlflow_workload_skips(image: str) -> dict[str, str]:
    reasons = {"CKV_K8S_35": SECRETS_AS_ENV_REASON}
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
        persistent: bool,
        storage_class: str | None,
        allowed_hosts: list[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:mlflow:MlflowTracking", name, opts)
        self._storage_class = storage_class
        self._persistent = persistent
        database_password = generated_password("mlflow-postgres-password", self.child_opts())
        database = self._postgres(config, database_password, certificates)
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
                f"postgresql://mlflow:{password}@{POSTGRES_HOST}:{POSTGRES_PORT}"
                f"/mlflow?sslmode=verify-full&sslrootcert={POSTGRES_CA}"
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
                    "secretName": POSTGRES_TLS_SECRET,
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
            after=[database],
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
        revision = hashlib.sha256(
            "\0".join([*data.values(), config.mlflow_image]).encode()
        ).hexdigest()[:10]
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
        return k8s.batch.v1.Job(
            "mlflow-access",
            metadata={
                "name": f"mlflow-access-{revision}",
                "namespace": MLFLOW,
                "labels": labels,
                "annotations": _mlflow_workload_skips(config.mlflow_image),
            },
            spec={
                "backoffLimit": 6,
                "activeDeadlineSeconds": 900,
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {"mlops-platform/credentials-digest": credentials_digest},
                    },
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "securityContext": pod_security_context(MLFLOW_UID),
                        "automountServiceAccountToken": False,
                        "containers": [
                            {
                                "name": "access",
                                "image": config.mlflow_image,
                                "imagePullPolicy": "Always",
                                "command": [
                                    "python",
                                    "/opt/mlflow-access/mlflow_access.py",
                                    "/opt/mlflow-access/access.json",
                                ],
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

    def _postgres(
        self, config: MlflowConfig, password: pulumi.Output[str], certificates: CertManager
    ) -> k8s.apps.v1.StatefulSet:
        """The database, serving TLS only (`hostssl` in its pg_hba.conf) with a certificate
        from the platform CA (its Secret's `ca.crt` is what clients verify against)."""
        secret = credentials_secret(
            "mlflow-postgres", namespace=MLFLOW, data={"password": password}, opts=self.child_opts()
        )
        certificate = certificates.certificate(
            "postgres",
            namespace=MLFLOW,
            secret_name=POSTGRES_TLS_SECRET,
            dns_names=[POSTGRES_HOST, f"{POSTGRES_HOST}.cluster.local"],
        )
        hba = k8s.core.v1.ConfigMap(
            "postgres-hba",
            metadata={
                "name": "postgres-hba",
                "namespace": MLFLOW,
                "labels": {"app.kubernetes.io/name": "postgres"},
            },
            data={
                # The socket is the pod's own (entrypoint init, pg_isready); everything over
                # the network must be TLS with a SCRAM password.
                "pg_hba.conf": "local all all trust\nhostssl all all all scram-sha-256\n"
            },
            opts=self.child_opts(),
        )
        labels = {"app.kubernetes.io/name": "postgres"}
        spec: dict = {
            "serviceName": "postgres",
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
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
                        {"name": "hba", "configMap": {"name": hba.metadata["name"]}},
                        {
                            "name": "password",
                            "secret": {"secretName": secret.metadata["name"], "defaultMode": 0o440},
                        },
                    ],
                },
            },
        }
        if self._persistent:
            spec["volumeClaimTemplates"] = [
                {
                    "metadata": {"name": "data"},
                    "spec": self._claim_spec(config.postgres_storage_size),
                }
            ]
        else:
            spec["template"]["spec"]["volumes"].append(
                scratch_volume("data", config.postgres_storage_size)
            )
        server = k8s.apps.v1.StatefulSet(
            "postgres",
            metadata={
                "name": "postgres",
                "namespace": MLFLOW,
                "labels": labels,
                "annotations": checkov_skips(
                    CKV_K8S_40="uid 999 is the official image's postgres user, which owns the "
                    "files its entrypoint creates; it is non-root and the pod runs restricted"
                ),
            },
            spec=spec,
            opts=self.child_opts(depends_on=[certificate]),
        )
        self._service("postgres", labels, "tcp", POSTGRES_PORT)
        return server

"""MLflow 3 tracking server and model registry behind its basic-auth app plus the platform's
write rules (`--app-name platform-auth`, `infra/scripts/mlflow_platform_auth.py`): PostgreSQL
over TLS (run by CloudNativePG, `infra/registry_database/`) for the tracking, registry and user
stores, artifacts proxied by the server to a volume (local) or an external S3 bucket (dev, prod),
users and grants applied by a Job before any server starts."""

import hashlib

import pulumi
import pulumi_kubernetes as k8s

from infra.cert_manager.component import CertManager
from infra.component import PlatformComponent
from infra.deployments.versions import DeclaredVersion
from infra.disruption_budgets import pod_disruption_budget
from infra.internal_tls import service_dns_names
from infra.mlflow import server
from infra.mlflow.auth import PASSWORD_ENV, MlflowUsers, basic_auth_ini
from infra.mlflow.config import (
    MLFLOW,
    MLFLOW_PORT,
    MLFLOW_TLS_SECRET,
    POSTGRES_CA,
    TRACKING_URI,
    MlflowConfig,
)
from infra.registry_database import cluster as registry_db
from infra.registry_database.component import RegistryDatabase
from infra.registry_database.config import NAMESPACE as CNPG_SYSTEM
from infra.registry_database.config import RegistryDatabaseConfig
from infra.registry_database.sizing import RegistryDatabaseSizing
from infra.secrets import MlflowLogin, credentials_secret, generated_password
from infra.workloads import scratch_volume, secret_env


class MlflowTracking(PlatformComponent):
    """Everything MLflow needs in the `mlflow` namespace. Every credential is generated (or, for
    an external store, a Pulumi secret) and reaches pods only through Secrets; `serving_login`
    and `pipeline_login` are handed to the components whose pods log in as those users,
    `reader_login` is exported for the pin command, `request_log_login` goes to the request-log
    sinks, `scoring_login` to the batch-scoring CronJobs, which may write only under
    `scoring_outputs`. Predictor pods may download a version only once
    `served_versions` (the list the auth app reads) holds it. MLflow serves only TLS. The
    manifests come from `infra/mlflow/server.py`; the database is `infra/registry_database/`."""

    tracking_uri: str = TRACKING_URI
    admin_password: pulumi.Output[str]
    serving_login: MlflowLogin
    pipeline_login: MlflowLogin
    reader_login: MlflowLogin
    request_log_login: MlflowLogin
    scoring_login: MlflowLogin
    served_versions: k8s.core.v1.ConfigMap

    def __init__(
        self,
        name: str,
        config: MlflowConfig,
        *,
        served_models: list[str],
        served_versions: list[DeclaredVersion],
        scoring_outputs: tuple[str, ...],
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
        self.serving_login = self._login(config.mlflow_serving_user, "serving")
        self.pipeline_login = self._login(config.mlflow_pipeline_user, "pipeline")
        self.reader_login = self._login(config.mlflow_reader_user, "reader")
        self.request_log_login = self._login(config.mlflow_request_log_user, "request-log")
        self.scoring_login = self._login(config.mlflow_scoring_user, "scoring")
        backend_uri = database_password.apply(
            lambda password: registry_db.database_uri(password, database.host, POSTGRES_CA)
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
                PASSWORD_ENV["reader"]: self.reader_login.password,
                PASSWORD_ENV["request-log"]: self.request_log_login.password,
                PASSWORD_ENV["scoring"]: self.scoring_login.password,
            },
            opts=self.child_opts(),
        )
        secret_name = server_secret.metadata["name"]
        store = self._artifact_store(config)
        account = k8s.core.v1.ServiceAccount(
            "mlflow-service-account", **server.service_account(config), opts=self.child_opts()
        )
        common = server.common_mounts(secret_name, database.ca_secret)
        # A credentials change must re-run the access Job and restart the servers: a digest of
        # the secret values in their pod templates does both. It is not secret itself (SHA-256
        # of 32 random characters), and left secret it would hide the whole pod spec.
        credentials_digest = pulumi.Output.unsecret(
            pulumi.Output.all(
                backend_uri,
                self.admin_password,
                self.serving_login.password,
                self.pipeline_login.password,
                self.reader_login.password,
                self.request_log_login.password,
                self.scoring_login.password,
            ).apply(lambda values: hashlib.sha256("\0".join(values).encode()).hexdigest())
        )
        users = MlflowUsers(
            serving=config.mlflow_serving_user,
            pipeline=config.mlflow_pipeline_user,
            reader=config.mlflow_reader_user,
            request_log=config.mlflow_request_log_user,
            scoring=config.mlflow_scoring_user,
            served_models=tuple(served_models),
        )
        access_mounts = server.Mounts(
            env=[
                *common.env,
                *(secret_env(env, secret_name, env) for env in PASSWORD_ENV.values()),
                *store.env,
            ],
            volumes=common.volumes,
            mounts=common.mounts,
        )
        access = self._access_job(
            config,
            users,
            access_mounts,
            credentials_digest,
            backup_first=database_config.registry_backups,
            after=[database.ready],
        )
        auth_app, items = server.auth_app(config)
        auth_app_map = k8s.core.v1.ConfigMap(
            "mlflow-auth-app", **auth_app, opts=self.child_opts()
        )
        certificate = certificates.certificate(
            "mlflow-server",
            namespace=MLFLOW,
            secret_name=MLFLOW_TLS_SECRET,
            dns_names=service_dns_names("mlflow", MLFLOW),
        )
        self.served_versions = k8s.core.v1.ConfigMap(
            server.SERVED_VERSIONS_MAP,
            **server.served_versions_config_map(served_versions),
            opts=self.child_opts(),
        )
        k8s.apps.v1.Deployment(
            "mlflow",
            **server.server_deployment(
                config,
                server_secret=secret_name,
                service_account=account.metadata["name"],
                common=common,
                store=store,
                auth_app=server.auth_app_volume(auth_app_map.metadata["name"], items),
                served_versions=self.served_versions.metadata["name"],
                allowed_hosts=allowed_hosts,
                credentials_digest=credentials_digest,
                scoring_outputs=scoring_outputs,
            ),
            opts=self.child_opts(depends_on=[access, certificate]),
        )
        self._service("mlflow", server.LABELS, "https", MLFLOW_PORT)
        if config.mlflow_replicas > 1:
            budget = pod_disruption_budget("mlflow", MLFLOW, server.LABELS)
            k8s.policy.v1.PodDisruptionBudget(
                "mlflow", metadata=budget["metadata"], spec=budget["spec"], opts=self.child_opts()
            )
        self.register_outputs({"tracking_uri": self.tracking_uri})

    def _access_job(
        self,
        config: MlflowConfig,
        users: MlflowUsers,
        mounts: server.Mounts,
        credentials_digest: pulumi.Output[str],
        backup_first: bool,
        after: list[pulumi.Resource],
    ) -> k8s.batch.v1.Job:
        """`infra/scripts/mlflow_access.py` in the MLflow image, after the database; Pulumi
        waits for it to complete. With `backup_first`, `mlflow db upgrade` runs only after a
        base backup of this revision completed (`infra/scripts/registry_backup_gate.py`)."""
        script = server.access_config_map(config, users, backup_first=backup_first)
        config_map = k8s.core.v1.ConfigMap("mlflow-access", **script, opts=self.child_opts())
        account = self._backup_account() if backup_first else None
        return k8s.batch.v1.Job(
            "mlflow-access",
            **server.access_job(
                config,
                name=script["metadata"]["name"],
                script=config_map.metadata["name"],
                mounts=mounts,
                credentials_digest=credentials_digest,
                backup_account=account.metadata["name"] if account else None,
            ),
            opts=self.child_opts(depends_on=after),
        )

    def _backup_account(self) -> k8s.core.v1.ServiceAccount:
        """The schema upgrade's identity: it may create and read the registry's Backups,
        nothing else."""
        manifests = server.backup_account()
        account = k8s.core.v1.ServiceAccount(
            server.BACKUP_ACCOUNT, **manifests["account"], opts=self.child_opts()
        )
        role = k8s.rbac.v1.Role(server.BACKUP_ACCOUNT, **manifests["role"], opts=self.child_opts())
        k8s.rbac.v1.RoleBinding(
            server.BACKUP_ACCOUNT,
            **manifests["binding"],
            opts=self.child_opts(depends_on=[role]),
        )
        return account

    def _service(self, name: str, labels: dict, protocol: str, port: int) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            name, **server.service(name, labels, protocol, port), opts=self.child_opts()
        )

    def _artifact_store(self, config: MlflowConfig) -> server.Mounts:
        """The server's artifact store: its volume (a claim when the stack persists data), or
        S3 with the static key's Secret when there is one."""
        if config.artifact_store == "volume":
            if self._persistent:
                claim = k8s.core.v1.PersistentVolumeClaim(
                    "mlflow-artifacts",
                    **server.artifact_claim(
                        server.claim_spec(config.artifact_storage_size, self._storage_class)
                    ),
                    opts=self.child_opts(),
                )
                volume = {
                    "name": "artifacts",
                    "persistentVolumeClaim": {"claimName": claim.metadata["name"]},
                }
            else:
                volume = scratch_volume("artifacts", config.artifact_storage_size)
            return server.artifact_store(config, volume=volume)
        s3_secret = None
        if config.s3_secret_access_key is not None:
            s3_secret = credentials_secret(
                "mlflow-s3",
                namespace=MLFLOW,
                data={
                    "access-key-id": config.s3_access_key_id,
                    "secret-access-key": config.s3_secret_access_key.get_secret_value(),
                },
                opts=self.child_opts(),
            ).metadata["name"]
        return server.artifact_store(config, s3_secret=s3_secret)

    def _login(self, username: str, role: str) -> MlflowLogin:
        """A platform user with its generated password (`mlflow-<role>-password`)."""
        password = generated_password(f"mlflow-{role}-password", self.child_opts())
        return MlflowLogin(username, password)

"""MLflow 3 tracking server and model registry: PostgreSQL backend, S3-compatible artifact store
(in-cluster MinIO, or an external endpoint), artifacts proxied through the server."""

from typing import Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, SecretStr, ValidationInfo, field_validator

from infra.component import PlatformComponent
from infra.config_types import CamelModel, ImageReference, MemoryQuantity
from infra.namespaces import MLFLOW
from infra.secrets import credentials_secret, generated_password
from infra.workloads import (
    CONTAINER_SECURITY_CONTEXT,
    http_probe,
    pod_security_context,
    resources,
    scratch_volume,
    secret_env,
)

MLFLOW_PORT = 5000
POSTGRES_PORT = 5432
MINIO_PORT = 9000
TRACKING_URI = f"http://mlflow.{MLFLOW}.svc.cluster.local:{MLFLOW_PORT}"


class MlflowConfig(CamelModel):
    """Stack keys for the tracking server, its database and its artifact store."""

    mlflow_image: ImageReference = "burakince/mlflow:3.14.0"
    mlflow_replicas: int = Field(default=1, ge=1, le=10)
    postgres_image: ImageReference = "postgres:17.6-bookworm"
    postgres_storage_size: MemoryQuantity = "2Gi"
    artifact_store: Literal["minio", "s3"] = "minio"
    artifact_bucket: str = Field(default="mlflow", pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
    minio_image: ImageReference = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"
    minio_client_image: ImageReference = "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z"
    minio_storage_size: MemoryQuantity = "10Gi"
    s3_endpoint_url: str = Field(default="", pattern=r"^(https?://[^\s/]+)?$")
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr | None = Field(default=None, validate_default=True)

    @field_validator("s3_secret_access_key")
    @classmethod
    def _external_store_credentials(cls, secret: SecretStr | None, info: ValidationInfo):
        if info.data.get("artifact_store") == "s3" and not (
            info.data.get("s3_access_key_id") and secret
        ):
            raise ValueError(
                "artifactStore 's3' needs 's3AccessKeyId' and the secret 's3SecretAccessKey' "
                "(pulumi config set --secret mlops-platform:s3SecretAccessKey ...)"
            )
        return secret


class MlflowTracking(PlatformComponent):
    """Everything MLflow needs in the `mlflow` namespace; database and object-store credentials
    are generated (or, for an external store, Pulumi secrets) and reach pods only as Secrets."""

    tracking_uri: str = TRACKING_URI

    def __init__(
        self,
        name: str,
        config: MlflowConfig,
        *,
        persistent: bool,
        storage_class: str | None,
        allowed_hosts: list[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:mlflow:MlflowTracking", name, opts)
        self._storage_class = storage_class
        self._persistent = persistent
        database = self._postgres(config)
        store_env, store_dependencies = (
            self._minio(config) if config.artifact_store == "minio" else self._external_s3(config)
        )
        labels = {"app.kubernetes.io/name": "mlflow"}
        backend_uri = (
            f"postgresql://mlflow:$(POSTGRES_PASSWORD)@postgres.{MLFLOW}.svc:{POSTGRES_PORT}/mlflow"
        )
        k8s.apps.v1.Deployment(
            "mlflow",
            metadata={"name": "mlflow", "namespace": MLFLOW, "labels": labels},
            spec={
                "replicas": config.mlflow_replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "securityContext": pod_security_context(1000),
                        "automountServiceAccountToken": False,
                        "containers": [
                            {
                                "name": "mlflow",
                                "image": config.mlflow_image,
                                "command": ["mlflow", "server"],
                                "args": ["--host", "0.0.0.0", "--port", str(MLFLOW_PORT)],
                                "ports": [{"name": "http", "containerPort": MLFLOW_PORT}],
                                "env": [
                                    secret_env("POSTGRES_PASSWORD", database, "password"),
                                    {"name": "MLFLOW_BACKEND_STORE_URI", "value": backend_uri},
                                    {
                                        "name": "MLFLOW_ARTIFACTS_DESTINATION",
                                        "value": f"s3://{config.artifact_bucket}/artifacts",
                                    },
                                    {
                                        "name": "MLFLOW_SERVER_ALLOWED_HOSTS",
                                        "value": ",".join(allowed_hosts),
                                    },
                                    {"name": "HOME", "value": "/tmp"},
                                    *store_env,
                                ],
                                "resources": resources("100m", "512Mi", "1", "1Gi"),
                                "readinessProbe": http_probe("/health", "http", 10),
                                "livenessProbe": http_probe("/health", "http", 30),
                                "securityContext": CONTAINER_SECURITY_CONTEXT,
                                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                            }
                        ],
                        "volumes": [scratch_volume()],
                    },
                },
            },
            opts=self.child_opts(depends_on=store_dependencies),
        )
        self._service("mlflow", labels, MLFLOW_PORT)
        self.register_outputs({"tracking_uri": self.tracking_uri})

    def _service(self, name: str, labels: dict, port: int) -> None:
        k8s.core.v1.Service(
            name,
            metadata={"name": name, "namespace": MLFLOW, "labels": labels},
            spec={
                "selector": labels,
                "ports": [{"name": "tcp", "port": port, "targetPort": port}],
            },
            opts=self.child_opts(),
        )

    def _data_volume(self, size: str) -> tuple[list[dict], list[dict]]:
        """(volumes, volumeClaimTemplates) for a StatefulSet's `data` volume."""
        if not self._persistent:
            return [scratch_volume("data", size)], []
        claim: dict = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
        }
        if self._storage_class:
            claim["storageClassName"] = self._storage_class
        return [], [{"metadata": {"name": "data"}, "spec": claim}]

    def _stateful_set(
        self, name: str, uid: int, size: str, container: dict, extra_volumes: tuple = ()
    ) -> None:
        """A one-replica StatefulSet with `data` at /data, a writable /tmp and a Service."""
        labels = {"app.kubernetes.io/name": name}
        volumes, claims = self._data_volume(size)
        spec: dict = {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": pod_security_context(uid),
                    "automountServiceAccountToken": False,
                    "containers": [
                        {
                            **container,
                            "securityContext": CONTAINER_SECURITY_CONTEXT,
                            "volumeMounts": [
                                {"name": "data", "mountPath": "/data"},
                                {"name": "tmp", "mountPath": "/tmp"},
                                *container.get("volumeMounts", []),
                            ],
                        }
                    ],
                    "volumes": [scratch_volume(), *volumes, *extra_volumes],
                },
            },
        }
        if claims:
            spec["volumeClaimTemplates"] = claims
        k8s.apps.v1.StatefulSet(
            name,
            metadata={"name": name, "namespace": MLFLOW, "labels": labels},
            spec=spec,
            opts=self.child_opts(),
        )
        port = container["ports"][0]["containerPort"]
        self._service(name, labels, port)

    def _postgres(self, config: MlflowConfig) -> str:
        """The backend store; returns the name of the Secret holding its password."""
        secret = credentials_secret(
            "mlflow-postgres",
            namespace=MLFLOW,
            data={"password": generated_password("mlflow-postgres-password", self.child_opts())},
            opts=self.child_opts(),
        )
        self._stateful_set(
            "postgres",
            uid=999,
            size=config.postgres_storage_size,
            container={
                "name": "postgres",
                "image": config.postgres_image,
                "ports": [{"name": "postgres", "containerPort": POSTGRES_PORT}],
                "env": [
                    {"name": "POSTGRES_USER", "value": "mlflow"},
                    {"name": "POSTGRES_DB", "value": "mlflow"},
                    {"name": "PGDATA", "value": "/data/pgdata"},
                    secret_env("POSTGRES_PASSWORD", "mlflow-postgres", "password"),
                ],
                "resources": resources("100m", "256Mi", "1", "1Gi"),
                "readinessProbe": {
                    "exec": {"command": ["pg_isready", "-U", "mlflow", "-d", "mlflow"]},
                    "periodSeconds": 10,
                },
                "volumeMounts": [{"name": "run", "mountPath": "/var/run/postgresql"}],
            },
            extra_volumes=(scratch_volume("run", "16Mi"),),
        )
        return secret.metadata["name"]

    def _minio(self, config: MlflowConfig) -> tuple[list[dict], list[pulumi.Resource]]:
        """In-cluster MinIO plus a Job creating the bucket; returns MLflow's env for it."""
        secret = credentials_secret(
            "mlflow-minio",
            namespace=MLFLOW,
            data={
                "access-key-id": "mlflow",
                "secret-access-key": generated_password("mlflow-minio-password", self.child_opts()),
            },
            opts=self.child_opts(),
        )
        credentials = [
            secret_env("AWS_ACCESS_KEY_ID", "mlflow-minio", "access-key-id"),
            secret_env("AWS_SECRET_ACCESS_KEY", "mlflow-minio", "secret-access-key"),
        ]
        endpoint = f"http://minio.{MLFLOW}.svc:{MINIO_PORT}"
        self._stateful_set(
            "minio",
            uid=1000,
            size=config.minio_storage_size,
            container={
                "name": "minio",
                "image": config.minio_image,
                "args": ["server", "/data", "--certs-dir", "/tmp/certs"],
                "ports": [{"name": "s3", "containerPort": MINIO_PORT}],
                "env": [
                    secret_env("MINIO_ROOT_USER", "mlflow-minio", "access-key-id"),
                    secret_env("MINIO_ROOT_PASSWORD", "mlflow-minio", "secret-access-key"),
                ],
                "resources": resources("100m", "256Mi", "1", "1Gi"),
                "readinessProbe": http_probe("/minio/health/ready", MINIO_PORT, 5),
            },
        )
        bucket = k8s.batch.v1.Job(
            "minio-bucket",
            metadata={"name": "minio-create-bucket", "namespace": MLFLOW},
            spec={
                "backoffLimit": 10,
                "template": {
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "securityContext": pod_security_context(1000),
                        "automountServiceAccountToken": False,
                        "containers": [
                            {
                                "name": "mc",
                                "image": config.minio_client_image,
                                "command": ["/bin/sh", "-c"],
                                "args": [
                                    f'mc alias set store {endpoint} "$AWS_ACCESS_KEY_ID" '
                                    f'"$AWS_SECRET_ACCESS_KEY" && mc mb --ignore-existing '
                                    f"store/{config.artifact_bucket}"
                                ],
                                "env": [
                                    *credentials,
                                    {"name": "MC_CONFIG_DIR", "value": "/tmp/mc"},
                                ],
                                "resources": resources("50m", "64Mi", "200m", "128Mi"),
                                "securityContext": CONTAINER_SECURITY_CONTEXT,
                                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                            }
                        ],
                        "volumes": [scratch_volume()],
                    }
                },
            },
            opts=self.child_opts(depends_on=[secret]),
        )
        return [*credentials, {"name": "MLFLOW_S3_ENDPOINT_URL", "value": endpoint}], [bucket]

    def _external_s3(self, config: MlflowConfig) -> tuple[list[dict], list[pulumi.Resource]]:
        """Credentials for an external S3-compatible store, from the stack's Pulumi secrets."""
        assert config.s3_secret_access_key is not None  # guaranteed by MlflowConfig
        secret = credentials_secret(
            "mlflow-s3",
            namespace=MLFLOW,
            data={
                "access-key-id": config.s3_access_key_id,
                "secret-access-key": config.s3_secret_access_key.get_secret_value(),
            },
            opts=self.child_opts(),
        )
        env = [
            secret_env("AWS_ACCESS_KEY_ID", "mlflow-s3", "access-key-id"),
            secret_env("AWS_SECRET_ACCESS_KEY", "mlflow-s3", "secret-access-key"),
            {"name": "AWS_DEFAULT_REGION", "value": config.s3_region},
        ]
        if config.s3_endpoint_url:
            env.append({"name": "MLFLOW_S3_ENDPOINT_URL", "value": config.s3_endpoint_url})
        return env, [secret]

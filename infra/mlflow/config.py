"""Stack keys and names of the MLflow tracking server (pydantic only)."""

from decimal import Decimal
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from infra.config_types import (
    CamelModel,
    CpuQuantity,
    DnsLabel,
    ImageReference,
    MemoryQuantity,
    cpu_cores,
    memory_bytes,
)

NAMESPACE = "mlflow"
MLFLOW = NAMESPACE
MLFLOW_PORT = 5000
TRACKING_URI = f"https://mlflow.{MLFLOW}.svc.cluster.local:{MLFLOW_PORT}"
"""MLflow serves only TLS, with a certificate from the platform CA (`infra/internal_tls.py`)."""
MLFLOW_TLS_SECRET = "mlflow-tls"
MLFLOW_UID = 10001
"""Any high UID: MLflow's image has no user of its own and keeps nothing outside /tmp."""
SERVICE_ACCOUNT = "mlflow"
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
"""What the EKS Pod Identity Webhook reads to inject the role and a projected token
(aws/amazon-eks-pod-identity-webhook README, `eks.amazonaws.com/role-arn`)."""
ARTIFACTS_DIR = "/artifacts"
AUTH_CONFIG = "/etc/mlflow-auth/basic_auth.ini"
AUTH_APP_DIR = "/opt/platform-auth"
"""Where the platform's auth app (`infra/scripts/mlflow_platform_auth.py`) is mounted; on
PYTHONPATH, so `mlflow server --app-name platform-auth` finds its entry point."""
POSTGRES_CA = "/etc/postgres-ca/ca.crt"
SERVED_VERSIONS_DIR = "/etc/mlflow-served"
SERVED_VERSIONS_FILE = "served-versions.json"
SERVER_OVERHEAD_MIB = 320
"""Measured here with mlflow 3.17.2 (`mlflow server --app-name basic-auth --workers 2`): the
`mlflow server` parent stays resident at ~245 MiB RSS, uvicorn's supervisor ~27 MiB."""
WORKER_MIB = 320
"""Each uvicorn worker measured at ~245 MiB RSS after its first request; 320 leaves room for
the artifact proxy's buffers."""

MEBIBYTE = 2**20


def _mebibytes(quantity: str) -> Decimal:
    return memory_bytes(quantity) / MEBIBYTE


USER_KEYS = (
    "mlflow_admin_user",
    "mlflow_serving_user",
    "mlflow_pipeline_user",
    "mlflow_reader_user",
    "mlflow_request_log_user",
    "mlflow_scoring_user",
)
"""The MLflow users in declaration order; each must differ from every one before it."""


class MlflowConfig(CamelModel):
    """Stack keys for the tracking server, its users, its database and its artifact store."""

    mlflow_image: ImageReference = "ghcr.io/mlflow/mlflow:v3.17.2-full"
    """MLflow's own image at the client's version (requirements.txt mlflow==3.17.2); `-full`
    carries the PostgreSQL and S3 drivers and the auth extra (mlflow docker/Dockerfile.full)."""
    mlflow_replicas: int = Field(default=1, ge=1, le=10)
    mlflow_cpu_limit: CpuQuantity = "1"
    mlflow_memory_limit: MemoryQuantity = "1536Mi"
    mlflow_admin_user: DnsLabel = "platform-admin"
    mlflow_serving_user: DnsLabel = "serving"
    """Reads the versions the stack's pin file serves, nothing else."""
    mlflow_pipeline_user: DnsLabel = Field(default="pipeline", validate_default=True)
    """Edits every experiment and registered model: CI and the training Jobs."""
    mlflow_reader_user: DnsLabel = Field(default="reader", validate_default=True)
    """Reads every experiment and registered model, writes nothing: the pin command (`make
    pin`), which pins aliases to versions not served yet."""
    mlflow_request_log_user: DnsLabel = Field(default="request-log", validate_default=True)
    """Writes the request logs under `0/request-logs/`, nothing else: the request-log sinks of
    the serving namespaces."""
    mlflow_scoring_user: DnsLabel = Field(default="scoring", validate_default=True)
    """Reads the served versions and the files under `0/scoring/`, writes new files only under
    the declared scoring outputs: the batch-scoring CronJobs."""
    artifact_store: Literal["volume", "s3"] = "volume"
    """'volume': the server keeps artifacts on its own volume (one replica); 's3': an external
    S3-compatible bucket."""
    artifact_storage_size: MemoryQuantity = "10Gi"
    artifact_bucket: str = Field(default="mlflow", pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
    s3_endpoint_url: str = Field(default="", pattern=r"^(https://[^\s/]+)?$")
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    """Empty: the pods' ambient cloud credentials (`s3AmbientCredentials`), so no key exists in
    the cluster at all."""
    s3_secret_access_key: SecretStr | None = Field(default=None, validate_default=True)
    s3_ambient_credentials: Literal["podIdentity", "irsa"] = "podIdentity"
    """Without a static key: an EKS Pod Identity association for ServiceAccount `mlflow/mlflow`
    (made in AWS; the pods reach the agent at 169.254.170.23:80), or IRSA with `s3RoleArn`
    (the ServiceAccount annotated `eks.amazonaws.com/role-arn`; STS over 443)."""
    s3_role_arn: str = Field(
        default="",
        pattern=r"^$|^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$",
        validate_default=True,
    )

    @field_validator("artifact_store")
    @classmethod
    def _one_volume_one_server(cls, store: str, info: ValidationInfo) -> str:
        replicas = info.data.get("mlflow_replicas", 1)
        if store == "volume" and replicas > 1:
            raise ValueError(
                "artifactStore 'volume' is a ReadWriteOnce volume of one server: with "
                f"mlflowReplicas {replicas} use artifactStore 's3'"
            )
        return store

    @field_validator("mlflow_memory_limit")
    @classmethod
    def _room_for_a_worker(cls, limit: str) -> str:
        if _mebibytes(limit) < SERVER_OVERHEAD_MIB + WORKER_MIB:
            raise ValueError(
                f"{limit} holds no MLflow worker: the server needs at least "
                f"{SERVER_OVERHEAD_MIB + WORKER_MIB}Mi for one"
            )
        return limit

    @field_validator("mlflow_pipeline_user")
    @classmethod
    def _distinct_users(cls, pipeline: str, info: ValidationInfo) -> str:
        others = {info.data.get("mlflow_admin_user"), info.data.get("mlflow_serving_user")}
        if pipeline in others or len(others) < 2:
            raise ValueError(
                "'mlflowAdminUser', 'mlflowServingUser' and 'mlflowPipelineUser' must differ"
            )
        return pipeline

    @field_validator("mlflow_reader_user", "mlflow_request_log_user", "mlflow_scoring_user")
    @classmethod
    def _distinct_from_the_users_before(cls, user: str, info: ValidationInfo) -> str:
        others = USER_KEYS[: USER_KEYS.index(info.field_name)]
        if user in {info.data.get(key) for key in others}:
            raise ValueError(
                f"{to_camel(info.field_name)!r} must differ from "
                + ", ".join(repr(to_camel(key)) for key in others)
            )
        return user

    @field_validator("s3_secret_access_key")
    @classmethod
    def _static_key_pair(cls, secret: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if bool(info.data.get("s3_access_key_id")) != bool(secret):
            raise ValueError(
                "set both 's3AccessKeyId' and the secret 's3SecretAccessKey' (pulumi config set "
                "--secret mlops-platform:s3SecretAccessKey ...), or neither to use the pods' "
                "ambient cloud credentials"
            )
        return secret

    @field_validator("s3_role_arn")
    @classmethod
    def _irsa_role(cls, arn: str, info: ValidationInfo) -> str:
        irsa = info.data.get("s3_ambient_credentials") == "irsa"
        if irsa and not arn:
            raise ValueError(
                "s3AmbientCredentials 'irsa' needs the IAM role's ARN here "
                "(arn:aws:iam::<account>:role/<name>), trusted for system:serviceaccount:"
                "mlflow:mlflow"
            )
        if arn and not irsa:
            raise ValueError("s3RoleArn is read only with s3AmbientCredentials 'irsa'")
        return arn

    @property
    def ambient_credentials(self) -> str | None:
        """How the server gets S3 credentials without a key, or None when it needs none."""
        if self.artifact_store != "s3" or self.s3_secret_access_key is not None:
            return None
        return self.s3_ambient_credentials

    @property
    def workers(self) -> int:
        """Uvicorn workers the limits carry: two per core, as many as the memory holds."""
        by_memory = int((_mebibytes(self.mlflow_memory_limit) - SERVER_OVERHEAD_MIB) // WORKER_MIB)
        return min(max(1, int(2 * cpu_cores(self.mlflow_cpu_limit))), by_memory)


MLFLOW_PODS = {"matchLabels": {"app.kubernetes.io/name": "mlflow"}}
POD_IDENTITY_AGENT = [
    {"ipBlock": {"cidr": "169.254.170.23/32"}},
    {"ipBlock": {"cidr": "fd00:ec2::23/128"}},
]
"""The EKS Pod Identity agent's link-local addresses, on port 80 (AWS EKS user guide,
"Understand how EKS Pod Identity works": 169.254.170.23 and [fd00:ec2::23])."""

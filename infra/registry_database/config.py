"""Stack keys of the registry database and its backups (pydantic only, no Pulumi)."""

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from infra.config_types import (
    CamelModel,
    ChartVersion,
    DnsLabel,
    ImageReference,
    MemoryQuantity,
)

NAMESPACE = "cnpg-system"
"""Where the operator runs (it manages the Cluster in the mlflow namespace)."""
CLOUDNATIVE_PG_VERSION = "0.29.0"
"""cloudnative-pg chart 0.29.0 ships operator 1.30.0 (cloudnative-pg/charts tag
cloudnative-pg-v0.29.0, charts/cloudnative-pg/Chart.yaml `appVersion: "1.30.0"`)."""
POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie"
"""The operator's default operand at 1.30.0 (cloudnative-pg v1.30.0 pkg/versions/versions.go
`DefaultImageName`); the `system` images carry barman-cli-cloud, which the in-tree
`barmanObjectStore` backups run (docs/src/appendixes/backup_barmanobjectstore.md)."""


class RegistryDatabaseConfig(CamelModel):
    """The registry database: operator version, instances, storage, backups."""

    cloudnative_pg_version: ChartVersion = CLOUDNATIVE_PG_VERSION
    postgres_image: ImageReference = POSTGRES_IMAGE
    postgres_instances: int = Field(default=1, ge=1, le=5)
    """One primary plus streaming standbys; the operator fails over to a standby."""
    postgres_storage_size: MemoryQuantity = "2Gi"
    registry_backups: bool = False
    """Continuous WAL archiving plus scheduled base backups to `backupBucket`."""
    backup_bucket: str = Field(
        default="", pattern=r"^$|^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$", validate_default=True
    )
    backup_server_name: DnsLabel = "registry-db"
    """The folder below `s3://<backupBucket>/registry-db/` this database archives into. A
    restore gives the restored database a new one (`python -m stacks.registry_restore`), so it
    never writes over the archive it was restored from."""
    backup_endpoint_url: str = Field(default="", pattern=r"^(https://[^\s/]+)?$")
    backup_region: str = "us-east-1"
    backup_schedule: str = Field(default="0 0 2 * * *", pattern=r"^\S+( \S+){5}$")
    """Six fields, seconds first (Go cron as the ScheduledBackup reads it: cloudnative-pg
    v1.30.0 api/v1/scheduledbackup_types.go `Schedule`, robfig/cron with seconds)."""
    backup_alert_after_hours: int = Field(default=26, ge=1, le=24 * 31)
    """RegistryBackupStale fires when no base backup succeeded for this long: the schedule's
    interval plus the time one base backup may take."""
    backup_retention: str = Field(default="30d", pattern=r"^[1-9][0-9]*[dwm]$")
    """How long base backups and the WAL they need are kept (the Cluster's
    `backup.retentionPolicy`, pattern `^[1-9][0-9]*[dwm]$` in the CRD)."""
    backup_access_key_id: str = ""
    """Empty: the database pods' ambient cloud credentials (`inheritFromIAMRole`)."""
    backup_secret_access_key: SecretStr | None = Field(default=None, validate_default=True)
    backup_role_arn: str = Field(
        default="", pattern=r"^$|^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$"
    )
    """IRSA: the role the database's ServiceAccount is annotated with (empty: EKS Pod Identity
    or node credentials)."""

    @field_validator("backup_secret_access_key")
    @classmethod
    def _static_key_pair(cls, secret: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if bool(info.data.get("backup_access_key_id")) != bool(secret):
            raise ValueError(
                "set both 'backupAccessKeyId' and the secret 'backupSecretAccessKey' (pulumi "
                "config set --secret mlops-platform:backupSecretAccessKey ...), or neither to "
                "use the database pods' ambient cloud credentials"
            )
        return secret

    @field_validator("backup_bucket")
    @classmethod
    def _bucket_for_backups(cls, bucket: str, info: ValidationInfo) -> str:
        if info.data.get("registry_backups") and not bucket:
            raise ValueError(
                "registryBackups is true but backupBucket is empty: name the bucket the base "
                "backups and WAL go to"
            )
        return bucket

    @property
    def uses_pod_identity(self) -> bool:
        """Backups reach S3 with neither a key nor an IRSA role: EKS Pod Identity."""
        return (
            self.registry_backups
            and self.backup_secret_access_key is None
            and not self.backup_role_arn
        )

    @property
    def destination_path(self) -> str:
        """Where barman-cloud writes: one folder per server name below this."""
        return f"s3://{self.backup_bucket}/registry-db"

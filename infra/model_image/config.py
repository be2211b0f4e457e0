"""Stack keys for where the serving image lives and how it is built (pydantic only)."""

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from infra.config_types import CamelModel

DIGEST_REFERENCE = r"^[a-z0-9.\-_/:]+@sha256:[0-9a-f]{64}$"


class ModelImageConfig(CamelModel):
    """Stack keys for where the serving image lives and how it is built."""

    image_registry: str = Field(default="localhost:5001", pattern=r"^[a-z0-9.\-]+(:[0-9]+)?$")
    image_repository: str = Field(default="mlops/model-server", pattern=r"^[a-z0-9._\-/]+$")
    image_prebuilt_ref: str = Field(default="", pattern=f"^$|{DIGEST_REFERENCE}")
    image_platform: str = Field(default="", pattern=r"^$|^linux/(amd64|arm64)$")
    """'' builds for the Docker engine's own platform (pulumi-docker 5.2 `DockerBuildArgs.platform`
    "defaults to GOOS/GOARCH"): an arm64 laptop gets an arm64 image for its arm64 kind node.
    Set `linux/amd64` when the engine's platform differs from the cluster's nodes."""
    registry_username: str = ""
    registry_password: SecretStr | None = Field(default=None, validate_default=True)

    @field_validator("registry_password")
    @classmethod
    def _credentials_in_pairs(cls, password: SecretStr | None, info: ValidationInfo):
        if bool(info.data.get("registry_username")) != bool(password):
            raise ValueError(
                "'registryUsername' and the secret 'registryPassword' go together: set both or "
                "neither (pulumi config set --secret mlops-platform:registryPassword ...)"
            )
        return password

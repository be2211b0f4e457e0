"""The model-serving image: built from `serving/`, tagged by content, deployed by digest."""

import hashlib
import os
from pathlib import Path

import pulumi
import pulumi_docker as docker
from pydantic import Field, SecretStr, ValidationInfo, field_validator

from infra.cluster import ClusterAccess
from infra.component import PlatformComponent
from infra.config_types import CamelModel
from infra.secrets import RegistryLogin

SERVING_DIR = Path(__file__).resolve().parent.parent / "serving"
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


def serving_content_tag(directory: Path = SERVING_DIR) -> str:
    """A tag derived from every file under `serving/`, so an unchanged server is not rebuilt."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class ModelImage(PlatformComponent):
    """Builds and pushes the serving image, or adopts a prebuilt digest (CI builds once and
    promotes the same digest through every stack)."""

    reference: pulumi.Output[str]
    """The image as `<registry>/<repository>@sha256:<digest>`."""
    registry_login: RegistryLogin | None
    """How the cluster logs in to pull it; None for a registry that needs no credentials."""

    def __init__(
        self,
        name: str,
        config: ModelImageConfig,
        *,
        cluster: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:serving:ModelImage", name, opts)
        self.registry_login = None
        if config.registry_password is not None:
            self.registry_login = RegistryLogin(
                server=config.image_registry,
                username=config.registry_username,
                password=pulumi.Output.secret(config.registry_password.get_secret_value()),
            )
        if config.image_prebuilt_ref:
            self.reference = pulumi.Output.from_input(config.image_prebuilt_ref)
        else:
            registry = None
            if self.registry_login is not None:
                registry = docker.RegistryArgs(
                    server=self.registry_login.server,
                    username=self.registry_login.username,
                    password=self.registry_login.password,
                )
            image = docker.Image(
                name,
                image_name=(
                    f"{config.image_registry}/{config.image_repository}:{serving_content_tag()}"
                ),
                # Relative to the working directory, so state and previews do not depend on
                # where the repository is checked out.
                build=docker.DockerBuildArgs(
                    context=os.path.relpath(SERVING_DIR),
                    dockerfile=os.path.relpath(SERVING_DIR / "Dockerfile"),
                    platform=config.image_platform or None,
                ),
                registry=registry,
                # The kind recipe starts the local registry the push goes to.
                opts=self.child_opts(
                    depends_on=[cluster.kind_cluster] if cluster.kind_cluster else []
                ),
            )
            self.reference = image.repo_digest
        self.register_outputs({"reference": self.reference})

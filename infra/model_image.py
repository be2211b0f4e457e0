"""The model-serving image: built from `serving/`, tagged by content, deployed by digest.

`ImageSource`, `content_tag` and `image_reference` are shared with the training image
(`infra/training.py`), which is built the same way from another context.
"""

import hashlib
import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ImageSource:
    """What an image is built from: its build context, its Dockerfile and the files (or
    directories) whose content names its tag, all under the context."""

    context: Path
    dockerfile: Path
    content: tuple[Path, ...]


SERVING_SOURCE = ImageSource(SERVING_DIR, SERVING_DIR / "Dockerfile", (SERVING_DIR,))


def content_tag(source: ImageSource) -> str:
    """A tag derived from every file of `source.content`, so an unchanged image is not rebuilt."""
    files = {
        path
        for root in source.content
        for path in ([root] if root.is_file() else root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(source.context).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def registry_login(config: ModelImageConfig) -> RegistryLogin | None:
    """How the cluster logs in to the image registry; None for one that needs no credentials."""
    if config.registry_password is None:
        return None
    return RegistryLogin(
        server=config.image_registry,
        username=config.registry_username,
        password=pulumi.Output.secret(config.registry_password.get_secret_value()),
    )


def kind_registry(cluster: ClusterAccess) -> list[pulumi.Resource]:
    """What a push must wait for: the kind recipe starts the local registry it goes to."""
    return [cluster.kind_cluster] if cluster.kind_cluster else []


def image_reference(
    name: str,
    *,
    source: ImageSource,
    repository: str,
    prebuilt_ref: str,
    config: ModelImageConfig,
    login: RegistryLogin | None,
    opts: pulumi.ResourceOptions,
) -> pulumi.Output[str]:
    """`prebuilt_ref` when set (CI builds once and promotes the same digest through every
    stack); else build `source` for the stack's platform, push it tagged by content and return
    its digest reference `<registry>/<repository>@sha256:<digest>`."""
    if prebuilt_ref:
        return pulumi.Output.from_input(prebuilt_ref)
    registry = None
    if login is not None:
        registry = docker.RegistryArgs(
            server=login.server, username=login.username, password=login.password
        )
    image = docker.Image(
        name,
        image_name=f"{config.image_registry}/{repository}:{content_tag(source)}",
        # Relative to the working directory, so state and previews do not depend on
        # where the repository is checked out.
        build=docker.DockerBuildArgs(
            context=os.path.relpath(source.context),
            dockerfile=os.path.relpath(source.dockerfile),
            platform=config.image_platform or None,
        ),
        registry=registry,
        opts=opts,
    )
    return image.repo_digest


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
        self.registry_login = registry_login(config)
        self.reference = image_reference(
            name,
            source=SERVING_SOURCE,
            repository=config.image_repository,
            prebuilt_ref=config.image_prebuilt_ref,
            config=config,
            login=self.registry_login,
            opts=self.child_opts(depends_on=kind_registry(cluster)),
        )
        self.register_outputs({"reference": self.reference})

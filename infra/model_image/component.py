"""The model-serving image: built from `serving/`, tagged by content, deployed by digest.

`ImageSource`, `content_tag` and `image_reference` are shared with the training image
(`infra/training/`), which is built the same way from another context.
"""

import os

import pulumi
import pulumi_docker as docker

from infra.cluster.component import ClusterAccess
from infra.component import PlatformComponent
from infra.model_image.config import ModelImageConfig
from infra.model_image.source import SERVING_SOURCE, ImageSource, content_tag
from infra.secrets import RegistryLogin


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

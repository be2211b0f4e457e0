"""Cluster access: the Kubernetes provider all components use, optionally on a new kind cluster."""

from pathlib import Path

import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s
from pydantic import Field

from infra.component import PlatformComponent
from infra.config_types import CamelModel, DnsLabel, ImageReference

KIND_SCRIPT = Path(__file__).parent / "scripts" / "kind-cluster.sh"


class ClusterConfig(CamelModel):
    """Stack keys that say which cluster to provision onto."""

    kubeconfig_context: str = ""
    create_kind_cluster: bool = False
    kind_cluster_name: DnsLabel = "mlops-dev"
    kind_node_image: ImageReference = (
        "kindest/node:v1.33.1"
        "@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f"
    )
    kind_registry_port: int = Field(default=5001, ge=1024, le=65535)
    ingress_host_port: int = Field(default=8080, ge=1024, le=65535)
    persistent_storage: bool = False
    storage_class: str = ""


class ClusterAccess(PlatformComponent):
    """A server-side-apply Kubernetes provider for the stack's cluster.

    With `createKindCluster` it first creates a kind cluster wired to a local image registry
    (`localhost:<kindRegistryPort>`) and maps the Istio ingress gateway to `ingressHostPort`.
    """

    provider: k8s.Provider

    def __init__(
        self, name: str, config: ClusterConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:cluster:ClusterAccess", name, opts)
        if config.create_kind_cluster:
            environment = {
                "CLUSTER_NAME": config.kind_cluster_name,
                "NODE_IMAGE": config.kind_node_image,
                "REGISTRY_PORT": str(config.kind_registry_port),
                "INGRESS_HOST_PORT": str(config.ingress_host_port),
            }
            cluster = command.local.Command(
                f"{name}-kind",
                create=f"bash {KIND_SCRIPT} create",
                delete=f"bash {KIND_SCRIPT} delete",
                environment=environment,
                opts=self.child_opts(),
            )
            kubeconfig = pulumi.Output.secret(cluster.stdout)
            self.provider = k8s.Provider(
                f"{name}-provider",
                kubeconfig=kubeconfig,
                enable_server_side_apply=True,
                opts=self.child_opts(depends_on=[cluster]),
            )
        else:
            self.provider = k8s.Provider(
                f"{name}-provider",
                context=config.kubeconfig_context or None,
                enable_server_side_apply=True,
                opts=self.child_opts(),
            )
        self.register_outputs({})

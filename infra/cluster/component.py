"""Cluster access: the Kubernetes provider all components use, optionally on a new kind cluster."""

import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s

from infra.cluster.config import ClusterConfig
from infra.cluster.scripts import KIND_SCRIPT, script_command
from infra.component import PlatformComponent


class ClusterAccess(PlatformComponent):
    """A server-side-apply Kubernetes provider for the stack's cluster.

    With `createKindCluster` it first creates a kind cluster wired to a local image registry
    (`localhost:<kindRegistryPort>`) and maps the Istio ingress gateway to `ingressHostPort`.
    """

    provider: k8s.Provider
    kind_cluster: command.local.Command | None
    """The kind cluster and its local registry (None on an existing cluster): what a local image
    push must wait for."""
    kubectl_environment: dict[str, pulumi.Input[str]]
    """Environment for a local `kubectl` (see infra/scripts/) to reach the provider's cluster:
    `KUBECONFIG_DATA` (secret) for kind, `KUBE_CONTEXT` otherwise (empty: the current context)."""

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
                "INGRESS_HTTPS_HOST_PORT": str(config.ingress_https_host_port),
            }
            self.kind_cluster = command.local.Command(
                f"{name}-kind",
                create=script_command(KIND_SCRIPT, "create"),
                delete=script_command(KIND_SCRIPT, "delete"),
                environment=environment,
                # stdout is the kubeconfig: encrypted in the state, not stored in plain text.
                opts=pulumi.ResourceOptions.merge(
                    self.child_opts(), pulumi.ResourceOptions(additional_secret_outputs=["stdout"])
                ),
            )
            kubeconfig = pulumi.Output.secret(self.kind_cluster.stdout)
            self.kubectl_environment = {"KUBECONFIG_DATA": kubeconfig}
            self.provider = k8s.Provider(
                f"{name}-provider",
                kubeconfig=kubeconfig,
                enable_server_side_apply=True,
                opts=self.child_opts(depends_on=[self.kind_cluster]),
            )
        else:
            self.kind_cluster = None
            self.kubectl_environment = {"KUBE_CONTEXT": config.kubeconfig_context}
            self.provider = k8s.Provider(
                f"{name}-provider",
                context=config.kubeconfig_context or None,
                enable_server_side_apply=True,
                opts=self.child_opts(),
            )
        self.register_outputs({})

"""The Pulumi component declaring the platform namespaces and their NetworkPolicies."""

import pulumi
import pulumi_kubernetes as k8s

from infra.component import PlatformComponent
from infra.namespaces.policies import network_policies
from infra.namespaces.spec import NamespaceSpec


class PlatformNamespaces(PlatformComponent):
    """Creates the platform namespaces with their Pod Security labels and NetworkPolicies."""

    namespaces: dict[str, k8s.core.v1.Namespace]

    def __init__(
        self,
        name: str,
        specs: list[NamespaceSpec],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:cluster:PlatformNamespaces", name, opts)
        self.namespaces = {}
        for spec in specs:
            namespace = k8s.core.v1.Namespace(
                spec.name,
                metadata={
                    "name": spec.name,
                    "labels": {
                        "pod-security.kubernetes.io/enforce": spec.pod_security,
                        "pod-security.kubernetes.io/warn": "restricted",
                        "pod-security.kubernetes.io/audit": "restricted",
                        "app.kubernetes.io/part-of": "mlops-platform",
                    },
                },
                opts=self.child_opts(),
            )
            self.namespaces[spec.name] = namespace
            for policy_name, policy_spec in network_policies(spec):
                k8s.networking.v1.NetworkPolicy(
                    f"{spec.name}-{policy_name}",
                    metadata={"name": policy_name, "namespace": spec.name},
                    spec=policy_spec,
                    opts=pulumi.ResourceOptions(parent=namespace),
                )
        self.register_outputs({"namespaces": list(self.namespaces)})

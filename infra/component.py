"""Base class for the platform's components, and how they declare a builder's custom object."""

import pulumi
import pulumi_kubernetes as k8s


class PlatformComponent(pulumi.ComponentResource):
    """A ComponentResource whose children also wait for what the component depends on.

    Pulumi does not pass a component's `depends_on` down to its children, so a Helm release
    inside a component that depends on the namespaces would otherwise race their creation.
    """

    def __init__(self, type_token: str, name: str, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(type_token, name, None, opts)
        depends_on = opts.depends_on if opts else None
        if depends_on is None:
            self._inherited: list[pulumi.Resource] = []
        elif isinstance(depends_on, pulumi.Resource):
            self._inherited = [depends_on]
        else:
            self._inherited = list(depends_on)

    def child_opts(
        self, *, depends_on: list[pulumi.Resource] | None = None
    ) -> pulumi.ResourceOptions:
        """Options for a child: parented here, after the component's and its own dependencies."""
        return pulumi.ResourceOptions(
            parent=self, depends_on=[*self._inherited, *(depends_on or [])]
        )


def custom_resource(
    name: str, manifest: dict, opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    """Declare a builder's manifest of a custom kind (`apiVersion`, `kind`, `metadata`, `spec`)."""
    return k8s.apiextensions.CustomResource(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=opts,
    )

"""Pinned Helm releases: the one way the platform installs third-party charts."""

import pulumi
import pulumi_kubernetes as k8s


def pinned_release(
    name: str,
    *,
    chart: str,
    version: str,
    repository: str,
    namespace: str,
    values: pulumi.Input[dict],
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v3.Release:
    """A Helm release of an exact chart version that waits for its resources to be ready.

    `helm.v3.Release` (not `helm.v4.Chart`) so Helm itself owns hooks and generated webhook
    certificates, and `pulumi preview` shows chart, version and values.
    """
    return k8s.helm.v3.Release(
        name,
        name=name,
        chart=chart,
        version=version,
        repository_opts={"repo": repository},
        namespace=namespace,
        create_namespace=False,
        atomic=True,
        timeout=600,
        values=values,
        opts=opts,
    )

"""Credentials the platform mints itself: random, kept encrypted in state, never in stack files."""

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random


def generated_password(name: str, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """A 32-character password generated once and kept as a Pulumi secret."""
    password = random.RandomPassword(name, length=32, special=False, opts=opts)
    return pulumi.Output.secret(password.result)


def credentials_secret(
    name: str,
    *,
    namespace: str,
    data: dict[str, pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Secret:
    """A Kubernetes Secret whose values stay Pulumi secrets end to end."""
    return k8s.core.v1.Secret(
        name,
        metadata={"name": name, "namespace": namespace},
        type="Opaque",
        string_data={key: pulumi.Output.secret(value) for key, value in data.items()},
        opts=opts,
    )

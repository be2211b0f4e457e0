"""Credentials as Pulumi secrets: minted by the platform (random, kept encrypted in state) or
handed in by the operator with `pulumi config set --secret`; never plaintext in stack files."""

import base64
import json
from dataclasses import dataclass

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
    secret_type: str = "Opaque",
) -> k8s.core.v1.Secret:
    """A Kubernetes Secret whose values stay Pulumi secrets end to end."""
    return k8s.core.v1.Secret(
        name,
        metadata={"name": name, "namespace": namespace},
        type=secret_type,
        string_data={key: pulumi.Output.secret(value) for key, value in data.items()},
        opts=opts,
    )


@dataclass(frozen=True)
class RegistryLogin:
    """Credentials the cluster uses to pull the serving image from a private registry."""

    server: str
    username: str
    password: pulumi.Output[str]

    def docker_config(self) -> pulumi.Output[str]:
        """The `.dockerconfigjson` payload, kept secret."""
        return pulumi.Output.secret(self.password).apply(
            lambda password: json.dumps(
                {
                    "auths": {
                        self.server: {
                            "auth": base64.b64encode(
                                f"{self.username}:{password}".encode()
                            ).decode()
                        }
                    }
                }
            )
        )

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


def image_pull_secrets(
    name: str,
    login: "RegistryLogin | None",
    *,
    namespace: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> list[dict]:
    """A pod's `imagePullSecrets`: one dockerconfigjson Secret for a private registry, none
    without a login."""
    if login is None:
        return []
    secret = credentials_secret(
        name,
        namespace=namespace,
        data={".dockerconfigjson": login.docker_config()},
        opts=opts,
        secret_type="kubernetes.io/dockerconfigjson",
    )
    return [{"name": secret.metadata.name}]


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


@dataclass(frozen=True)
class MlflowLogin:
    """One MLflow basic-auth user (the password a Pulumi secret), ready to hand to the pods that
    log in as it: `secret()` puts it into their namespace, `env()` reads it from there as the
    MLflow client expects (`MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`)."""

    username: str
    password: pulumi.Output[str]

    def secret(
        self, name: str, *, namespace: str, opts: pulumi.ResourceOptions
    ) -> k8s.core.v1.Secret:
        return credentials_secret(
            name,
            namespace=namespace,
            data={"username": self.username, "password": self.password},
            opts=opts,
        )

    @staticmethod
    def env(secret: k8s.core.v1.Secret) -> list[dict]:
        name = secret.metadata["name"]
        return [
            {
                "name": "MLFLOW_TRACKING_USERNAME",
                "valueFrom": {"secretKeyRef": {"name": name, "key": "username"}},
            },
            {
                "name": "MLFLOW_TRACKING_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": name, "key": "password"}},
            },
        ]

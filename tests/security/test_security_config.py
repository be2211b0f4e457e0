"""Stack settings that would weaken the platform are refused before anything is declared, with
the stack file, the key and what would be valid."""

from __future__ import annotations

import pytest
import yaml

from infra.stack_config import StackConfigError, parse_stack_config, secure_keys
from tests.support.stacks import REPO_ROOT, STACKS

PREFIX = "mlops-platform:"


def config_with(stack: str, **changes) -> dict:
    values = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {**values, **{PREFIX + key: value for key, value in changes.items()}}


@pytest.mark.parametrize(
    ("stack", "changes", "expected"),
    [
        ("prod", {"jwtIssuer": ""}, ["mlops-platform:jwtJwksUri", "predictionAuth 'jwt' needs"]),
        ("local", {"predictionAuth": "jwt"}, ["mlops-platform:jwtJwksUri", "'jwtIssuer'"]),
        ("prod", {"jwtIssuer": "http://login.example.com/"}, ["mlops-platform:jwtIssuer"]),
        (
            "dev",
            {"predictionAuth": "none", "jwtIssuer": "", "jwtJwksUri": ""},
            ["mlops-platform:predictionAuth", "'LoadBalancer' would open every model"],
        ),
        (
            "local",
            {"gatewayTls": "existingSecret"},
            ["mlops-platform:gatewayTlsSecret", "kubernetes.io/tls Secret in istio-system"],
        ),
        ("prod", {"acmeEmail": ""}, ["mlops-platform:acmeEmail", "ACME account contact"]),
        ("local", {"gatewayTls": "none"}, ["mlops-platform:gatewayTls"]),
        (
            "local",
            {"mlflowReplicas": 2},
            ["mlops-platform:artifactStore", "with mlflowReplicas 2 use artifactStore 's3'"],
        ),
        (
            "local",
            {"mlflowServingUser": "platform-admin"},
            ["mlops-platform:mlflowPipelineUser", "must differ"],
        ),
        (
            "local",
            {"mlflowReaderUser": "serving"},
            ["mlops-platform:mlflowReaderUser", "must differ"],
        ),
        (
            "local",
            {"mlflowRequestLogUser": "pipeline"},
            ["mlops-platform:mlflowRequestLogUser", "must differ"],
        ),
        ("local", {"mlflowMemoryLimit": "512Mi"}, ["mlops-platform:mlflowMemoryLimit", "640Mi"]),
        ("local", {"gatewayMaxRequestBytes": 0}, ["mlops-platform:gatewayMaxRequestBytes"]),
        (
            "prod",
            {"s3AmbientCredentials": "irsa"},
            ["mlops-platform:s3RoleArn", "'irsa' needs the IAM role's ARN"],
        ),
        (
            "prod",
            {"s3RoleArn": "arn:aws:iam::123456789012:role/mlflow"},
            ["mlops-platform:s3RoleArn", "only with s3AmbientCredentials 'irsa'"],
        ),
        ("prod", {"s3AmbientCredentials": "nodeRole"}, ["mlops-platform:s3AmbientCredentials"]),
    ],
)
def test_weakening_settings_are_refused(stack, changes, expected) -> None:
    values = config_with(stack, **changes)
    with pytest.raises(StackConfigError) as error:
        parse_stack_config(values, source=f"Pulumi.{stack}.yaml", secure_keys=secure_keys(values))
    message = str(error.value)
    assert f"Pulumi.{stack}.yaml" in message
    for fragment in expected:
        assert fragment in message


def test_committed_stacks_validate() -> None:
    for stack in STACKS:
        values = config_with(stack)
        parse_stack_config(values, source=f"Pulumi.{stack}.yaml", secure_keys=secure_keys(values))

"""The running stack's configuration, as the Pulumi engine hands it to the program (kept apart
from `infra.stack_config` so that validating a stack file never imports Pulumi)."""

import pulumi
from pulumi.runtime import config as runtime_config

from infra.stack_config import StackConfig, parse_stack_config


def from_pulumi_runtime() -> StackConfig:
    """Validate the `mlops-platform:*` values the engine passes; errors name the stack file."""
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secure = {key.rpartition(":")[2] for key in values if runtime_config.is_config_secret(key)}
    return parse_stack_config(
        values, source=f"Pulumi.{pulumi.get_stack()}.yaml", secure_keys=secure
    )

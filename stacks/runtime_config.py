"""The running stack's configuration, as the Pulumi engine hands it to the program (kept apart
from `infra.stack_config` so that validating a stack file never imports Pulumi)."""

import pulumi
from pulumi.runtime import config as runtime_config

from infra.stack_config import (
    PROJECT,
    StackConfig,
    StackConfigError,
    parse_stack_config,
    report,
    unset_secrets,
)


def from_pulumi_runtime() -> StackConfig:
    """Validate the `mlops-platform:*` values the engine passes; errors name the stack file.

    A stack file read offline may leave a needed secret unset (`unset_secrets`: the render shows
    a placeholder); under the engine, `pulumi up` and `preview`, it must be set."""
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secure = {key.rpartition(":")[2] for key in values if runtime_config.is_config_secret(key)}
    source = f"Pulumi.{pulumi.get_stack()}.yaml"
    config = parse_stack_config(values, source=source, secure_keys=secure)
    missing = unset_secrets(config)
    if missing:
        raise StackConfigError(
            report(
                source,
                [
                    f"{PROJECT}:{key}: the stack needs this secret; set it with "
                    f"`pulumi config set --secret {PROJECT}:{key} <value>`"
                    for key in missing
                ],
            )
        )
    return config

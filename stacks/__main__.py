"""Pulumi entry point (`main: stacks/` in Pulumi.yaml): validate the stack config, resolve the
model versions against the stack's registry, then declare."""

from infra.model_versions import deploy_time_versions
from infra.stack_config import from_pulumi_runtime
from stacks.program import declare_platform

config = from_pulumi_runtime()
declare_platform(config, deploy_time_versions(config.deployments, config.registry_uri))

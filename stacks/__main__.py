"""Pulumi entry point (`main: stacks/` in Pulumi.yaml): validate the stack config, then declare."""

from infra.stack_config import from_pulumi_runtime
from stacks.program import declare_platform

declare_platform(from_pulumi_runtime())

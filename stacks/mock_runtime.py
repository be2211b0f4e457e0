"""Runs the real platform program under Pulumi's mock runtime and records what it declares.

The mocks stand in for the Pulumi engine only: every resource the program registers is kept
with its inputs, parent and dependencies; providers answer with deterministic placeholders.
"""

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from infra.deployments.pinned_versions import pinned_versions
from infra.deployments.versions import Resolution
from infra.stack_config import PROJECT, SECRET_PLACEHOLDER, StackConfig
from stacks.program import declare_platform
from stacks.runtime_config import from_pulumi_runtime

FAKE_KUBECONFIG = "[kubeconfig of the kind cluster]"
FAKE_GENERATED_PASSWORD = "fake-random-password"
"""What RandomPassword yields under mocks; it must only ever reach outputs as a secret."""


@dataclass
class Registration:
    """One resource as the program declared it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: list[str]
    inputs: dict[str, Any]


@dataclass
class Declared:
    """Everything a stack declares: resources in registration order and the stack outputs."""

    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)


class _PlaceholderProviders(pulumi.runtime.Mocks):
    """Answers each resource with its inputs plus the outputs the program reads."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        outputs = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = FAKE_GENERATED_PASSWORD
        elif args.typ == "docker:index/image:Image":
            name = args.inputs["imageName"]
            digest = hashlib.sha256(name.encode()).hexdigest()
            outputs["repoDigest"] = f"{name.rsplit(':', 1)[0]}@sha256:{digest}"
        elif args.typ == "command:local:Command":
            outputs["stdout"] = FAKE_KUBECONFIG
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        return {}, None


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, declared: Declared) -> None:
        super().__init__(_PlaceholderProviders())
        self._declared = declared

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self._declared.resources.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    custom=request.custom,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    inputs=rpc.deserialize_properties(request.object),
                )
            )
        return response


def declare_under_mocks(
    stack: str,
    raw_config: dict[str, Any],
    secret_keys: set[str],
    stack_file: Path,
) -> Declared:
    """Run the platform program for `stack` with the given `mlops-platform:*` values.

    `raw_config` holds stack-file values (objects as structures); `secret_keys` names the keys
    set with `--secret`. The program validates the config itself and reads the versions from
    the pin file beside `stack_file`, exactly as under `pulumi up`.
    """
    declared = Declared()
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_all_config(
        {key: _as_config_string(value) for key, value in raw_config.items()},
        [key for key in raw_config if key.rpartition(":")[2] in secret_keys],
    )
    pulumi.runtime.set_mocks(
        _PlaceholderProviders(),
        project=PROJECT,
        stack=stack,
        preview=False,
        monitor=_RecordingMonitor(declared),
    )
    config = from_pulumi_runtime()
    versions = pinned_versions(config.deployments, stack_file)
    _run_program(declared, config, versions)
    return declared


@pulumi.runtime.test
def _run_program(declared: Declared, config: StackConfig, versions: Resolution) -> pulumi.Output:
    """Declare the platform, then resolve the stack outputs (secret ones as the placeholder)."""
    declare_platform(config, versions)
    stack_outputs = pulumi.runtime.settings.get_root_resource().outputs

    def record(name: str, value: pulumi.Output) -> pulumi.Output:
        return pulumi.Output.all(value, value.is_secret()).apply(
            lambda resolved: declared.outputs.__setitem__(
                name, SECRET_PLACEHOLDER if resolved[1] else resolved[0]
            )
        )

    return pulumi.Output.all(
        *(record(name, pulumi.Output.from_input(v)) for name, v in stack_outputs.items())
    )


def _as_config_string(value: Any) -> str:
    """Config as the engine passes it: strings, with objects and arrays JSON-encoded."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)

"""The versions a stack declares, read from its pin file beside the stack file
(`pins.<stack>.yaml`, release/pins.py) and never from the registry: `pulumi up`,
`pulumi preview` and the offline render declare the same thing with the registry down.

Every predictor needs a pin taken for its stack file reference (`iris@champion` pinned through
the `champion` alias, `iris/3` pinned at version 3); anything else is a StackConfigError naming
the pin file, the key and the command that writes the pin.
"""

import os
from pathlib import Path

from infra.deployments.config import DeploymentConfig
from infra.deployments.versions import SKIP_DEPLOYMENTS_ENV, DeclaredVersion, Resolution
from infra.stack_config import StackConfigError
from release.pins import PIN_COMMAND, PinError, pin_file_for, read_pins


def pinned_versions(deployments: list[DeploymentConfig], stack_file: Path) -> Resolution:
    """Each predictor's pinned version and digest; a deployment the pin file records as pending
    (no version existed when it was pinned) is pending. With `MLOPS_SKIP_DEPLOYMENTS=1` (a
    stack's first `pulumi up`, before its MLflow exists) every deployment is pending."""
    if os.environ.get(SKIP_DEPLOYMENTS_ENV) == "1":
        return Resolution(
            pending={
                d.key: f"deployment {d.key} is not declared ({SKIP_DEPLOYMENTS_ENV}=1). Once "
                "MLflow answers, register and promote its models (`python -m model train`, "
                "`python -m model promote`), pin them (`python -m release pin`) and deploy "
                f"without {SKIP_DEPLOYMENTS_ENV}"
                for d in deployments
            }
        )
    pin_file = pin_file_for(stack_file)
    command = PIN_COMMAND.format(stack=stack_file.name.removeprefix("Pulumi.").rsplit(".", 1)[0])
    try:
        lock = read_pins(pin_file)
    except PinError as error:
        raise StackConfigError(f"{error}; write it with `{command}`") from None
    resolution = Resolution()
    problems = []
    for deployment in deployments:
        if deployment.key in lock.pending:
            resolution.pending[deployment.key] = lock.pending[deployment.key]
            continue
        declared = {}
        for predictor in deployment.predictors:
            key = f"deployments.{deployment.key}.{predictor.name}"
            pin = lock.pin(deployment.key, predictor.name)
            if pin is None:
                problems.append(f"{key}: no pin for {predictor.name!r} ({predictor.model})")
            elif not pin.reference_matches(predictor.model):
                taken = f"{pin.model}@{pin.alias}" if pin.alias else f"{pin.model}/{pin.version}"
                problems.append(
                    f"{key}: pinned through {taken}, but the stack file serves {predictor.model}"
                )
            else:
                declared[predictor.name] = DeclaredVersion(
                    pin.model, pin.version, pin.digest, pin.alias
                )
        resolution.versions[deployment.key] = declared
    declared_keys = {d.key for d in deployments}
    problems += [
        f"deployments.{key}: pinned, but the stack file declares no such deployment"
        for key in sorted(set(lock.deployments) - declared_keys)
    ]
    if problems:
        raise StackConfigError(
            f"{pin_file} does not pin what {stack_file.name} serves:\n  - "
            + "\n  - ".join(problems)
            + f"\nWrite the pins from the stack's registry with `{command}` (docs/operations.md)"
        )
    return resolution

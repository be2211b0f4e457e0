"""Stack file checks for the tools that propose model changes: an edited stack file and its
pins (release/stack_text.py, release/change_request.py) are judged by the real `StackConfig`
loader and the pin reader of the Pulumi program before the change is committed."""

from pathlib import Path

from infra.deployments.pinned_versions import pinned_versions
from infra.stack_config import StackConfig, StackConfigError, load_stack_file
from release.stack_text import StackEditError


def validated(path: Path) -> StackConfig:
    """The stack file's config, or a StackEditError naming the file and keys."""
    try:
        return load_stack_file(path)
    except StackConfigError as error:
        raise StackEditError(str(error)) from None


def deployable(stack_file: Path) -> None:
    """The stack file validates and its pin file pins every predictor, as `pulumi up` needs."""
    config = validated(stack_file)
    try:
        pinned_versions(config.deployments, stack_file)
    except StackConfigError as error:
        raise StackEditError(str(error)) from None

"""Stack file checks for the tools that propose model changes: the real `StackConfig` loader
judges an edited stack file (release/stack_text.py edits it) before it is proposed."""

from pathlib import Path

from infra.stack_config import StackConfig, StackConfigError, load_stack_file
from release.stack_text import StackEditError


def validated(path: Path) -> StackConfig:
    """The stack file's config, or a StackEditError naming the file and keys."""
    try:
        return load_stack_file(path)
    except StackConfigError as error:
        raise StackEditError(str(error)) from None

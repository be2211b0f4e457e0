"""The base errors of the lifecycle and the analysis: each message says what was wrong and what
is expected."""

from pydantic import ValidationError


class LifecycleError(Exception):
    """A user-facing failure of a lifecycle step (bad input, refused promotion, missing model)."""


class ConfigurationError(LifecycleError):
    """A dataset schema, training configuration, gate threshold or A/B policy is invalid."""


def describe_validation_error(exc: ValidationError) -> str:
    """One line per pydantic error: the key path and what was expected there."""
    return "\n".join(
        f"  - {'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
        for error in exc.errors()
    )

"""Errors the lifecycle reports to people: each message says what was wrong and what is expected."""

from pydantic import ValidationError


class LifecycleError(Exception):
    """A user-facing failure of a lifecycle step (bad input, refused promotion, missing model)."""


class ConfigurationError(LifecycleError):
    """A dataset schema, training configuration or gate threshold is invalid."""


class DataValidationError(LifecycleError):
    """The dataset failed the validation gate; ``violations`` names every problem found."""

    def __init__(self, dataset: str, violations: list[str]) -> None:
        self.dataset = dataset
        self.violations = violations
        lines = "\n".join(f"  - {violation}" for violation in violations)
        super().__init__(
            f"dataset {dataset!r} failed validation with {len(violations)} violation(s):\n{lines}"
        )


class PromotionError(LifecycleError):
    """A promotion or rollback was refused; the registry was left unchanged."""


def describe_validation_error(exc: ValidationError) -> str:
    """One line per pydantic error: the key path and what was expected there."""
    return "\n".join(
        f"  - {'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
        for error in exc.errors()
    )

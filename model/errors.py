"""Errors the lifecycle reports to people: each message says what was wrong and what is expected.
The base ones live in `common.errors`, shared with `analysis/`."""

from common.errors import ConfigurationError, LifecycleError, describe_validation_error

__all__ = [
    "ConfigurationError",
    "DataValidationError",
    "LifecycleError",
    "PromotionError",
    "describe_validation_error",
]


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


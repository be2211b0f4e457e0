"""The model references of a stack file, read without `infra/`: for every deployment
('<namespace>/<name>') each predictor's '<name>@<alias>' or '<name>/<version>'. The stack file
is validated in full by the Pulumi program (infra/stack_config.py); this reads only what the pin
command needs and says which key is missing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from release.pins import PinError

DEPLOYMENTS_KEY = "mlops-platform:deployments"
DEFAULT_NAMESPACE = "seldon"


@dataclass(frozen=True)
class PredictorRef:
    deployment: str
    predictor: str
    reference: str

    @property
    def model(self) -> str:
        return re.split(r"[@/]", self.reference, maxsplit=1)[0]

    @property
    def alias(self) -> str | None:
        return self.reference.partition("@")[2] or None

    @property
    def version(self) -> str | None:
        return self.reference.partition("/")[2] or None

    @property
    def where(self) -> str:
        return f"deployment {self.deployment}, predictor {self.predictor!r} ({self.reference})"


def predictor_refs(stack_file: Path) -> list[PredictorRef]:
    """Every predictor of the stack file, in file order."""
    try:
        config = yaml.safe_load(stack_file.read_text())["config"]
        deployments = config.get(DEPLOYMENTS_KEY) or []
        return [
            PredictorRef(
                f"{d.get('namespace', DEFAULT_NAMESPACE)}/{d['name']}", p["name"], p["model"]
            )
            for d in deployments
            for p in d["predictors"]
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
        raise PinError(
            f"{stack_file}: cannot read config.'{DEPLOYMENTS_KEY}' (each deployment needs "
            f"'name' and 'predictors', each predictor 'name' and 'model'): {error!r}"
        ) from None


def stack_setting(stack_file: Path, key: str) -> str:
    """The plain value of `mlops-platform:<key>` in the stack file, '' when unset or empty."""
    config = yaml.safe_load(stack_file.read_text()).get("config") or {}
    value = config.get(f"mlops-platform:{key}")
    return value if isinstance(value, str) else ""

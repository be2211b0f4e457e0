"""The typed stack configuration: one pydantic model validates every `mlops-platform:*` key of a
stack before any resource is declared, and errors name the stack file, the key and what is valid.

Scalar settings are flat keys (Pulumi's project file can declare their types); `deployments` is
a list and `monitoring` an object. Each component's config class owns its keys.
"""

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from infra.alerting.config import CREDENTIAL_KEYS
from infra.components import COMPONENTS, FLAT_SECTIONS, OBJECT_KEYS
from infra.config_types import decode_json_config
from infra.deployments.config import DeploymentConfig, unique_deployments
from infra.model_monitoring.config import MonitoringConfig
from infra.stack_rules import stack_problems
from infra.strict_yaml import load_unique

PROJECT = "mlops-platform"

NEW_SHAPE = """\
  mlops-platform:deployments:
    - name: iris                # was serving.deploymentName
      namespace: seldon         # was serving.namespace
      workers: 2
      maxBatchRows: 1000
      predictors:
        - {name: champion, model: iris@champion, traffic: 90}
        - {name: challenger, model: iris@challenger, traffic: 10}"""
"""The `deployments` shape shown to a stack file that still has the old `serving` object."""

ALERTING_SHAPE = """\
  mlops-platform:alerting:
    runbookBaseUrl: https://git.example.com/platform/mlops-platform/-/blob/main/docs/operations.md
    default: team
    severityRoutes: {critical: oncall}
    receivers:
      - {name: team, slack: {channel: "#mlops-alerts"}}     # secret alertSlackApiUrl
      - {name: oncall, pagerduty: {}}                      # secret alertPagerdutyRoutingKey"""

SECRET_KEYS = frozenset(
    {"registryPassword", "s3SecretAccessKey", "modelLedgerKey", *CREDENTIAL_KEYS.values()}
)
"""Keys that must be set with `pulumi config set --secret`, never as plaintext."""

SECRET_PLACEHOLDER = "[secret]"
"""What an encrypted (`secure:`) value reads as when a stack file is validated or rendered
without the passphrase."""


def _flat_keys(section: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in section.model_fields.items()]


KEY_SECTION = {key: name for name, cls in FLAT_SECTIONS.items() for key in _flat_keys(cls)}
KNOWN_KEYS = sorted([*KEY_SECTION, *OBJECT_KEYS])


class _Stack(BaseModel):
    """Every setting of one stack, grouped by the component that uses it; the fields are the
    sections of `infra.components.COMPONENTS`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _merge_monitoring_overrides(cls, data: Any) -> Any:
        """Give each deployment the stack's monitoring with its own overrides laid over it.

        An invalid stack-level `monitoring` is reported once, at its own key, not again under
        every deployment: then only each deployment's overrides are merged over the defaults.
        """
        if not isinstance(data, dict) or not isinstance(data.get("deployments"), list):
            return data
        stack_monitoring = data.get("monitoring", {})
        try:
            MonitoringConfig.model_validate(stack_monitoring)
        except ValidationError:
            stack_monitoring = {}
        deployments = []
        for entry in data["deployments"]:
            if isinstance(entry, dict):
                overrides = entry.get("monitoring", {})
                if isinstance(overrides, dict):
                    entry = {**entry, "monitoring": {**stack_monitoring, **overrides}}
            deployments.append(entry)
        return {**data, "deployments": deployments}

    @field_validator("deployments", check_fields=False)
    @classmethod
    def _unique(cls, deployments: list[DeploymentConfig]) -> list[DeploymentConfig]:
        return unique_deployments(deployments)

    @property
    def registry_uri(self) -> str:
        """The registry the stack's pins come from: `registryUri`, else the stack's MLflow."""
        return self.registry.registry_uri or self.mesh.url("mlflow")

    @property
    def deployment_namespaces(self) -> list[str]:
        """Each namespace the deployments run in, once, in order of first use."""
        return list(dict.fromkeys(d.namespace for d in self.deployments))


StackConfig = create_model(
    "StackConfig",
    __base__=_Stack,
    __module__=__name__,
    **{section.name: (section.config, section.default) for section in COMPONENTS},
)
"""Every setting of one stack, grouped by the component that uses it."""


class StackConfigError(ValueError):
    """An invalid stack configuration; the message lists every problem with file and key."""


def parse_stack_config(
    values: dict[str, Any], *, source: str, secure_keys: set[str] = frozenset()
) -> StackConfig:
    """Validate raw `mlops-platform:*` values (JSON strings or structures) from `source`.

    `secure_keys` names the keys whose stack-file value is encrypted (`secure:`).
    """
    problems: list[str] = []
    grouped: dict[str, dict[str, Any]] = {name: {} for name in FLAT_SECTIONS}
    objects: dict[str, Any] = {}
    for full_key, value in values.items():
        namespace, _, key = full_key.rpartition(":")
        if namespace != PROJECT:
            if _close(namespace, [PROJECT]):
                problems.append(
                    f"{full_key}: unknown project {namespace!r}; did you mean "
                    f"'{PROJECT}:{(_close(key, KNOWN_KEYS) or [key])[0]}'?"
                )
            continue
        if key == "serving":
            problems.append(
                f"{full_key}: the single 'serving' object was replaced by a list of "
                f"deployments; move it to:\n{NEW_SHAPE}"
            )
            continue
        if key in SECRET_KEYS and value in ("", None):
            continue  # the project default: unset
        if key in SECRET_KEYS and key not in secure_keys:
            problems.append(
                f"{full_key}: is a secret and must not be plaintext; set it with "
                f"`pulumi config set --secret {full_key} <value>`"
            )
            continue
        if key in OBJECT_KEYS:
            objects[key] = decode_json_config(value)
        elif key in KEY_SECTION:
            grouped[KEY_SECTION[key]][key] = value
        else:
            guess = _close(key, KNOWN_KEYS)
            hint = f"did you mean '{PROJECT}:{guess[0]}'? " if guess else ""
            problems.append(
                f"{full_key}: unknown key; {hint}valid keys are {', '.join(KNOWN_KEYS)}"
            )
    if "alerting" not in objects:
        problems.append(
            f"{PROJECT}:alerting: is required (who alerts reach; Alertmanager's default receiver "
            f"is never 'null'), e.g.\n{ALERTING_SHAPE}"
        )
    if "deployments" not in objects and f"{PROJECT}:serving" not in values:
        problems.append(
            f"{PROJECT}:deployments: is required (the models to serve), e.g.\n{NEW_SHAPE}"
        )
    if problems:
        raise StackConfigError(report(source, problems))
    try:
        config = StackConfig.model_validate({**grouped, **objects})
    except ValidationError as error:
        raise StackConfigError(report(source, _describe(error))) from None
    across = [f"{PROJECT}:{where}: {message}" for where, message in stack_problems(config)]
    if across:
        raise StackConfigError(report(source, across))
    return config


def _close(word: str, candidates: list[str]) -> list[str]:
    """The candidates `word` looks like a typo of, best first (case ignored)."""
    lowered = {candidate.lower(): candidate for candidate in candidates}
    return [lowered[m] for m in difflib.get_close_matches(word.lower(), lowered, n=1, cutoff=0.75)]


def load_stack_file(path: Path) -> StackConfig:
    """Read and validate a `Pulumi.<stack>.yaml`; `secure:` values count as set secrets."""
    try:
        document = load_unique(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise StackConfigError(f"{path}: cannot read stack file: {error}") from None
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise StackConfigError(f"{path}: expected a top-level 'config:' mapping of stack keys")
    return parse_stack_config(
        readable_values(config), source=str(path), secure_keys=secure_keys(config)
    )


def secure_keys(config: dict[str, Any]) -> set[str]:
    """The keys of a stack file's config whose values are encrypted."""
    return {
        key.rpartition(":")[2]
        for key, value in config.items()
        if isinstance(value, dict) and set(value) == {"secure"}
    }


def readable_values(config: dict[str, Any]) -> dict[str, Any]:
    """A stack file's config with every encrypted value replaced by the placeholder."""
    secure = secure_keys(config)
    return {
        key: SECRET_PLACEHOLDER if key.rpartition(":")[2] in secure else value
        for key, value in config.items()
    }


def _describe(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        section, *path = item["loc"]
        if section in FLAT_SECTIONS:
            # A default checked by a validator (validate_default) is reported by field name.
            key, path = (to_camel(str(path[0])), path[1:]) if path else ("", [])
        else:
            key = section
        where = f"{PROJECT}:{key}" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in path
        )
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] in ("string_pattern_mismatch", "int_type", "float_type", "bool_type"):
            message = f"{message} (got {item['input']!r})"
        problems.append(f"{where}: {message}")
    return problems


def report(source: str, problems: list[str]) -> str:
    lines = [f"invalid stack configuration in {source}:"]
    lines += [f"  - {problem}" for problem in problems]
    return "\n".join(lines)


def unset_secrets(config: StackConfig) -> list[str]:
    """Secret stack keys the stack needs but does not set: each alert receiver kind's
    credential, and the ledger key where a deployment retrains (its runs sign their entries).
    An offline render shows them as the placeholder; `pulumi up` and `preview` refuse."""
    missing = config.alerting.missing_credentials(config.alert_credentials)
    retrains = any(d.training is not None for d in config.deployments)
    if retrains and config.training_image.model_ledger_key is None:
        missing.append("modelLedgerKey")
    return missing

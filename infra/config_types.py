"""Constrained value types shared by the component config classes."""

import json
import re
import types
from decimal import Decimal
from typing import Annotated, Any, Self, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"

DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL_PATTERN)]
"""A Kubernetes DNS-1123 label: lower-case alphanumerics and '-', at most 63 characters."""

def decode_json_config(value: Any) -> Any:
    """Pulumi hands array and object config to the program JSON-encoded; stack files hold it
    structured. A string that is not JSON is left as it is, for the field to refuse."""
    if isinstance(value, str) and value.lstrip().startswith(("[", "{")):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


JsonList = Annotated[list[str], BeforeValidator(decode_json_config)]
"""A list of strings from a stack file or, JSON-encoded, from `pulumi up`."""

ChartVersion = Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")]
"""An exact Helm chart version (MAJOR.MINOR.PATCH); ranges are refused so renders repeat."""

_CPU = re.compile(r"^(?P<number>[0-9]+(\.[0-9]+)?)(?P<unit>m?)$")
_MEMORY = re.compile(r"^(?P<number>[0-9]+(\.[0-9]+)?)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T|)$")
_MEMORY_FACTORS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def cpu_cores(quantity: str) -> Decimal:
    """A CPU quantity ('250m', '2', '0.5') in cores."""
    match = _CPU.match(quantity)
    if not match:
        raise ValueError(f"expected a CPU quantity such as '250m' or '2', got {quantity!r}")
    number = Decimal(match["number"])
    return number / 1000 if match["unit"] == "m" else number


def memory_bytes(quantity: str) -> Decimal:
    """A memory or storage quantity ('512Mi', '1Gi', '1G') in bytes."""
    match = _MEMORY.match(quantity)
    if not match:
        raise ValueError(f"expected a memory quantity such as '512Mi' or '1Gi', got {quantity!r}")
    return Decimal(match["number"]) * _MEMORY_FACTORS[match["unit"]]


def _at_least(measure, floor: str):
    def check(quantity: str) -> str:
        if measure(quantity) <= 0:
            raise ValueError(f"must be above zero, got {quantity!r}")
        if measure(quantity) < measure(floor):
            raise ValueError(
                f"{quantity!r} is below the floor of {floor}: a unit left out ('512' for '512Mi')?"
            )
        return quantity

    return check


CPU_FLOOR = "1m"
"""Kubernetes' smallest CPU unit."""
MEMORY_FLOOR = "1Mi"
"""Below a mebibyte no container starts or volume holds anything (runc's own floor is higher)."""

CpuQuantity = Annotated[str, AfterValidator(_at_least(cpu_cores, CPU_FLOOR))]
"""A Kubernetes CPU quantity above zero, such as '250m' or '2'."""

MemoryQuantity = Annotated[str, AfterValidator(_at_least(memory_bytes, MEMORY_FLOOR))]
"""A Kubernetes memory or storage quantity of at least 1Mi, such as '512Mi' or '1Gi'."""

_IMAGE = re.compile(
    r"^(?P<name>(?:[a-z0-9.\-]+(?::[0-9]+)?/)?[a-z0-9._\-]+(?:/[a-z0-9._\-]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def _pinned_image(reference: str) -> str:
    match = _IMAGE.match(reference)
    if not match or not (match["tag"] or match["digest"]):
        raise ValueError(
            "an image reference needs a tag (':1.2.3') or a digest ('@sha256:<64 hex>'), "
            f"preferably both, got {reference!r}"
        )
    if (match["tag"] or "").lower() == "latest":
        raise ValueError(
            f"':latest' moves under you; pin a version tag or a digest, got {reference!r}"
        )
    return reference


ImageReference = Annotated[str, AfterValidator(_pinned_image)]
"""A container image reference pinned by tag and/or digest ('registry/name:tag@sha256:...')."""


def _scalar_types(annotation: Any) -> set[type]:
    """The plain types a field accepts (`int | None` -> {int, NoneType})."""
    if get_origin(annotation) in (Union, types.UnionType):
        return {t for arg in get_args(annotation) for t in _scalar_types(arg)}
    return {annotation} if isinstance(annotation, type) else set()


class CamelModel(BaseModel):
    """Base for config classes: camelCase keys in stack files, unknown keys refused.

    Flat keys reach the program as strings under `pulumi up` ("3", "true"), so numbers and
    booleans written as strings pass; what is refused is a boolean for a number and anything
    but true/false for a boolean, which Pulumi would refuse too.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_number_coercion(cls, value: Any, info: ValidationInfo) -> Any:
        accepted = _scalar_types(cls.model_fields[info.field_name].annotation)
        if isinstance(value, bool) and bool not in accepted and accepted & {int, float}:
            raise ValueError(f"takes a number, not the boolean {value!r}")
        if accepted == {bool} and not (isinstance(value, bool) or value in ("true", "false")):
            raise ValueError(f"takes true or false, got {value!r}")
        return value


class ObjectConfig(CamelModel):
    """Base for the config held in a stack-file object (`deployments`, `monitoring`).

    Strict: those values keep their YAML types through Pulumi (object config is JSON), so a
    boolean is never read as a number nor a string as a percent (`replicas: true` and
    `traffic: "90"` are refused). Flat keys reach the program as strings and stay lax.
    """

    model_config = ConfigDict(strict=True)


class ResourceAmounts(ObjectConfig):
    """CPU and memory of one side of a container's resources."""

    cpu: CpuQuantity
    memory: MemoryQuantity


class ComputeResources(ObjectConfig):
    """A container's requests and limits; requests may not exceed limits (the API server
    would refuse the pod)."""

    requests: ResourceAmounts
    limits: ResourceAmounts

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Self:
        over = [
            f"{name} request {getattr(self.requests, name)} > limit {getattr(self.limits, name)}"
            for name, measure in (("cpu", cpu_cores), ("memory", memory_bytes))
            if measure(getattr(self.requests, name)) > measure(getattr(self.limits, name))
        ]
        if over:
            raise ValueError("requests must not exceed limits: " + "; ".join(over))
        return self

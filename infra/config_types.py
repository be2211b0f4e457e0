"""Constrained value types shared by the component config classes."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"

DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL_PATTERN)]
"""A Kubernetes DNS-1123 label: lower-case alphanumerics and '-', at most 63 characters."""

ChartVersion = Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")]
"""An exact Helm chart version (MAJOR.MINOR.PATCH); ranges are refused so renders repeat."""

CpuQuantity = Annotated[str, StringConstraints(pattern=r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")]
"""A Kubernetes CPU quantity such as '250m' or '2'."""

MemoryQuantity = Annotated[
    str, StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$")
]
"""A Kubernetes memory or storage quantity such as '512Mi' or '1Gi'."""

ImageReference = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9.\-_/:]+(:[\w.\-]+)?(@sha256:[0-9a-f]{64})?$")
]
"""A container image reference pinned by tag and/or digest."""


class CamelModel(BaseModel):
    """Base for config classes: camelCase keys in stack files, unknown keys refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

"""Sizing profiles: a stack picks one (`platformSizing`), each component sizes its own workloads
for it in its `sizing.py`.

`small` is for the kind laptop stack and dev: everything the local stack asks for fits in 3 CPU
and 6 GiB of requests (tests/stacks/test_laptop_footprint.py), autoscalers at their maxima.
`ha` keeps production's sizes: the charts' own defaults where upstream sets them (istiod
500m/2Gi, the operator manager 100m/200Mi), two to three istiod and two to five gateway pods,
and room for Prometheus' retention. Model predictors are sized per stack in
`deployments[].resources` from the measured server footprint; docs/sizing.md has the method and
the figures.
"""

from dataclasses import dataclass
from typing import Literal

from infra.config_types import CamelModel

Profile = Literal["small", "ha"]


@dataclass(frozen=True)
class Replicas:
    """How many pods of a scaled workload may run: fixed when `minimum == maximum`, else a
    HorizontalPodAutoscaler between the two. The footprint counts `maximum`."""

    minimum: int
    maximum: int

    @property
    def autoscaled(self) -> bool:
        return self.maximum > self.minimum


@dataclass(frozen=True)
class Profiles[T]:
    """One component's sizing under each profile."""

    small: T
    ha: T


class SizingConfig(CamelModel):
    """Stack key choosing the profile: `small` (laptop, dev) or `ha` (production)."""

    platform_sizing: Profile = "ha"

    def pick[T](self, profiles: Profiles[T]) -> T:
        """The component's sizing under this stack's profile."""
        return getattr(profiles, self.platform_sizing)

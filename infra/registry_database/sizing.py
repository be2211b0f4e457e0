"""The registry database's workloads per sizing profile: each PostgreSQL instance (the Cluster's
`resources`) and the operator's manager (chart value `resources`)."""

from dataclasses import dataclass

from infra.sizing import Profiles
from infra.workloads import resources


@dataclass(frozen=True)
class RegistryDatabaseSizing:
    instance: dict
    operator: dict


SIZING = Profiles(
    # What the hand-written StatefulSet asked for; the manager is a Go controller.
    small=RegistryDatabaseSizing(
        instance=resources("100m", "256Mi", "1", "1Gi"),
        operator=resources("50m", "96Mi", "500m", "256Mi"),
    ),
    ha=RegistryDatabaseSizing(
        instance=resources("250m", "512Mi", "2", "2Gi"),
        operator=resources("100m", "128Mi", "1", "512Mi"),
    ),
)

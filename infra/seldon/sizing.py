"""The operator's manager and the executor it injects into every predictor pod, per sizing
profile."""

from dataclasses import dataclass

from infra.sizing import Profiles
from infra.workloads import resources


@dataclass(frozen=True)
class SeldonSizing:
    seldon_manager: dict
    executor: dict

    def seldon_manager_values(self) -> dict:
        """The operator chart takes flat keys (seldon-core v1.17.1 seldon-core-operator values)."""
        return {
            "cpuRequest": self.seldon_manager["requests"]["cpu"],
            "memoryRequest": self.seldon_manager["requests"]["memory"],
            "cpuLimit": self.seldon_manager["limits"]["cpu"],
            "memoryLimit": self.seldon_manager["limits"]["memory"],
        }


SIZING = Profiles(
    small=SeldonSizing(
        seldon_manager=resources("100m", "128Mi", "500m", "512Mi"),
        # The executor is Seldon's Go request router (seldonio/seldon-core-executor); not
        # measured here (no cluster), sized like a small Go proxy instead of the operator's
        # 500m/512Mi default.
        executor=resources("50m", "64Mi", "500m", "256Mi"),
    ),
    ha=SeldonSizing(
        seldon_manager=resources("100m", "200Mi", "500m", "512Mi"),
        executor=resources("100m", "128Mi", "1", "512Mi"),
    ),
)

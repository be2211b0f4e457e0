"""How many pods a predictor runs and how many a voluntary disruption may take: a fixed
`replicas` or an `autoscaling` range, rendered into the SeldonDeployment as Seldon Core v1's
operator expects it, with a disruption budget whenever more than one pod may run.

The operator (seldon-core v1.17.1 `operator/controllers/seldondeployment_controller.go`,
`createComponents`) creates one HorizontalPodAutoscaler per componentSpec that has an `hpaSpec`
(`createHpa`, autoscaling/v2, `metricsv2` copied as the HPA's metrics) and then leaves the
Deployment's `replicas` unset, so the HPA alone owns the count; only without an `hpaSpec` does it
copy the predictor's `replicas`. A `pdbSpec` becomes a policy/v1 PodDisruptionBudget over the
same pods (`createPdb`). Types: `SeldonHpaSpec`, `SeldonPdbSpec` in
`operator/apis/machinelearning.seldon.io/v1/seldondeployment_types.go@v1.17.1`.
Pure: config in, plain dicts out; no Pulumi import.
"""

from typing import Self

from pydantic import Field, model_validator

from infra.config_types import ObjectConfig
from infra.disruption_budgets import ONE_AT_A_TIME

MAX_REPLICAS = 100
"""Upper bound on any predictor's pods; above it a typo (1000) is more likely than a need."""


class AutoscalingConfig(ObjectConfig):
    """`predictors[].autoscaling`: a HorizontalPodAutoscaler on the pods' CPU utilisation (of
    their CPU request) between `minReplicas` and `maxReplicas`."""

    min_replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    max_replicas: int = Field(ge=1, le=MAX_REPLICAS)
    target_cpu_utilization: int = Field(default=70, ge=1, le=100, alias="targetCPUUtilization")
    """Percent of the CPU request the HPA keeps the average pod at."""

    @model_validator(mode="after")
    def _a_range(self) -> Self:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"maxReplicas ({self.max_replicas}) must be at least minReplicas "
                f"({self.min_replicas}), e.g. minReplicas: 2, maxReplicas: 6"
            )
        return self


def hpa_spec(autoscaling: AutoscalingConfig) -> dict:
    """Seldon's `hpaSpec`, with the metric in `metricsv2` (autoscaling/v2 MetricSpec; the
    v2beta1 `metrics` field needs an API Kubernetes removed in 1.25)."""
    return {
        "minReplicas": autoscaling.min_replicas,
        "maxReplicas": autoscaling.max_replicas,
        "metricsv2": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": autoscaling.target_cpu_utilization,
                    },
                },
            }
        ],
    }


def scaling_fields(replicas: int, autoscaling: AutoscalingConfig | None) -> tuple[dict, dict]:
    """(fields of the predictor, fields of its componentSpec) for one predictor's pod count.

    A budget is declared whenever the predictor may run more than one pod; a single pod gets
    none, since a budget that forbids its only eviction would block every node drain.
    """
    component: dict = {}
    if autoscaling is None:
        predictor = {"replicas": replicas}
        most = replicas
    else:
        predictor = {}
        component["hpaSpec"] = hpa_spec(autoscaling)
        most = autoscaling.max_replicas
    if most > 1:
        component["pdbSpec"] = dict(ONE_AT_A_TIME)
    return predictor, component

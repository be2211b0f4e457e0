"""The Seldon deployments the monitoring tests look at: two, in two namespaces, whose predictor
names overlap (both have a `champion`), so every query must be scoped to its deployment."""

from dataclasses import dataclass

from infra.model_monitoring.config import PredictorTarget

RUNBOOK_BASE_URL = "https://git.example.com/mlops-platform/-/blob/main/docs/operations.md"


@dataclass(frozen=True)
class DeploymentUnderTest:
    namespace: str
    name: str
    predictors: list[PredictorTarget]

    @property
    def target(self) -> dict:
        """Keyword arguments of the rule and PodMonitor builders for this deployment."""
        return {
            "deployment_name": self.name,
            "namespace": self.namespace,
            "predictors": self.predictors,
            "runbook_base_url": RUNBOOK_BASE_URL,
        }

    @property
    def shadow(self) -> str | None:
        return next((p.name for p in self.predictors if p.shadow), None)


IRIS = DeploymentUnderTest(
    "seldon",
    "iris",
    [
        PredictorTarget(name="champion", traffic=90),
        PredictorTarget(name="challenger", traffic=10),
        PredictorTarget(name="shadow", traffic=25, shadow=True),
    ],
)
WINE = DeploymentUnderTest("models", "wine", [PredictorTarget(name="champion", traffic=100)])
DEPLOYMENTS = [IRIS, WINE]

NAMESPACE, DEPLOYMENT, PREDICTORS, TARGET = IRIS.namespace, IRIS.name, IRIS.predictors, IRIS.target

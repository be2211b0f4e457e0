"""The Seldon deployment every monitoring test looks at."""

from infra.model_monitoring.config import PredictorTarget

NAMESPACE = "seldon"
DEPLOYMENT = "iris"
PREDICTORS = [
    PredictorTarget(name="champion", traffic=90),
    PredictorTarget(name="challenger", traffic=10),
    PredictorTarget(name="shadow", traffic=25, shadow=True),
]
TARGET = {"deployment_name": DEPLOYMENT, "namespace": NAMESPACE, "predictors": PREDICTORS}

"""The SeldonDeployment that serves registered model versions with an A/B split and a shadow."""

import re

import pulumi
import pulumi_kubernetes as k8s

from infra.component import PlatformComponent
from infra.deployment_config import MODEL_CONTAINER, DeploymentConfig, PredictorConfig
from infra.secrets import RegistryLogin, credentials_secret
from infra.workloads import (
    CONTAINER_SECURITY_CONTEXT,
    http_probe,
    pod_security_context,
    scratch_volume,
)

SERVING_UID = 8888
"""The serving image's non-root user."""
SERVING_HTTP_PORT = 9000
"""The operator's default REST port for the model container (predictiveUnit.httpPort)."""
PULL_SECRET = "model-image-pull"
"""Name of the image pull Secret in each deployment's namespace."""


class ModelDeployment(PlatformComponent):
    """One entry of `deployments`: a SeldonDeployment with one predictor per model version.

    Non-shadow predictors share traffic by weight through Istio; the shadow predictor receives a
    mirrored copy of `mirrorPercent` of the requests and its answers are dropped.
    """

    resource: k8s.apiextensions.CustomResource

    def __init__(
        self,
        name: str,
        config: DeploymentConfig,
        *,
        namespace: k8s.core.v1.Namespace,
        image: pulumi.Input[str],
        tracking_uri: pulumi.Input[str],
        operator: pulumi.Resource,
        registry_login: RegistryLogin | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:serving:ModelDeployment", name, opts)
        namespace_name = namespace.metadata.name
        pull_secrets = []
        if registry_login is not None:
            secret = credentials_secret(
                f"{config.namespace}-{config.name}-{PULL_SECRET}",
                namespace=namespace_name,
                data={".dockerconfigjson": registry_login.docker_config()},
                opts=self.child_opts(),
                secret_type="kubernetes.io/dockerconfigjson",
            )
            pull_secrets = [{"name": secret.metadata.name}]
        self.resource = k8s.apiextensions.CustomResource(
            name,
            api_version="machinelearning.seldon.io/v1",
            kind="SeldonDeployment",
            metadata={
                "name": config.name,
                "namespace": namespace_name,
                "labels": {"app.kubernetes.io/part-of": "mlops-platform"},
            },
            spec={
                "name": config.name,
                "protocol": "seldon",
                "predictors": [
                    _predictor_spec(p, _pod_spec(p, config, image, tracking_uri, pull_secrets))
                    for p in config.predictors
                ],
            },
            # The operator's admission webhooks must be up before a SeldonDeployment is applied.
            opts=self.child_opts(depends_on=[operator]),
        )
        self.register_outputs({"name": self.resource.metadata["name"]})


def version_label(predictor: PredictorConfig) -> str:
    """The model reference as a Kubernetes label value (e.g. 'iris-3')."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "-", predictor.model)


def _predictor_spec(predictor: PredictorConfig, pod_spec: dict) -> dict:
    spec: dict = {
        "name": predictor.name,
        "replicas": predictor.replicas,
        "traffic": predictor.weight,
        "labels": {"version": version_label(predictor)},
        "annotations": {"version": version_label(predictor)},
        "graph": {
            "name": MODEL_CONTAINER,
            "type": "MODEL",
            "endpoint": {"type": "REST"},
            "children": [],
        },
        "componentSpecs": [{"spec": pod_spec}],
    }
    if predictor.shadow:
        spec["shadow"] = True
    return spec


def _pod_spec(
    predictor: PredictorConfig,
    config: DeploymentConfig,
    image: pulumi.Input[str],
    tracking_uri: pulumi.Input[str],
    pull_secrets: list[dict],
) -> dict:
    return {
        "imagePullSecrets": pull_secrets,
        "securityContext": pod_security_context(SERVING_UID),
        "containers": [
            {
                "name": MODEL_CONTAINER,
                "image": image,
                "env": [
                    {"name": "MODEL_URI", "value": f"models:/{predictor.model}"},
                    {"name": "MLFLOW_TRACKING_URI", "value": tracking_uri},
                    {"name": "GUNICORN_WORKERS", "value": str(config.workers)},
                    {"name": "MAX_BATCH_ROWS", "value": str(config.max_batch_rows)},
                ],
                "resources": config.resources_of(predictor).model_dump(),
                "readinessProbe": http_probe("/health/ping", SERVING_HTTP_PORT, initial_delay=10),
                "livenessProbe": http_probe("/health/ping", SERVING_HTTP_PORT, initial_delay=30),
                "securityContext": CONTAINER_SECURITY_CONTEXT,
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        "volumes": [scratch_volume()],
    }

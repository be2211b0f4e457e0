"""The SeldonDeployment that serves registered model versions with an A/B split and a shadow."""

import re
from typing import Annotated, Self

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from infra.component import PlatformComponent
from infra.config_types import CamelModel, CpuQuantity, DnsLabel, MemoryQuantity
from infra.secrets import RegistryLogin, credentials_secret
from infra.training import TrainingConfig
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
MODEL_CONTAINER = "model"
PULL_SECRET = "model-image-pull"
"""Graph node name; Seldon requires the custom container to carry the same name."""

ModelReference = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]+(/[1-9][0-9]*|@[A-Za-z0-9_\-]+)$")
]
"""A registered model reference: '<name>/<version>' or '<name>@<alias>'."""


class ResourceAmounts(CamelModel):
    cpu: CpuQuantity
    memory: MemoryQuantity


class Resources(CamelModel):
    # Measured: two workers plus Seldon's metrics, gRPC and manager processes hold ~870 MiB PSS.
    requests: ResourceAmounts = ResourceAmounts(cpu="250m", memory="1Gi")
    limits: ResourceAmounts = ResourceAmounts(cpu="2", memory="1536Mi")


class PredictorConfig(CamelModel):
    """One predictor of the SeldonDeployment: a model version, its traffic share and capacity."""

    name: DnsLabel
    model: ModelReference
    traffic: int | None = Field(default=None, ge=0, le=100)
    replicas: int = Field(default=1, ge=1, le=50)
    shadow: bool = False
    mirror_percent: int | None = Field(default=None, ge=1, le=100)
    resources: Resources = Resources()

    @model_validator(mode="after")
    def _shadow_fields(self) -> Self:
        if self.shadow and self.traffic is not None:
            raise ValueError(
                "a shadow predictor takes no 'traffic'; set 'mirrorPercent' (1-100) instead"
            )
        if not self.shadow and self.mirror_percent is not None:
            raise ValueError("'mirrorPercent' is only valid with 'shadow: true'")
        return self

    @property
    def weight(self) -> int:
        """Traffic share for Seldon: the mirror percent for a shadow (100 when unset)."""
        if self.shadow:
            return self.mirror_percent or 100
        return 100 if self.traffic is None else self.traffic

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model}"

    @property
    def version_label(self) -> str:
        """The model reference as a Kubernetes label value (e.g. 'iris-3')."""
        return re.sub(r"[^A-Za-z0-9_.\-]", "-", self.model)


class ServingConfig(CamelModel):
    """Stack key `serving`: the predictors and Seldon's admission rules over them."""

    namespace: DnsLabel = "seldon"
    deployment_name: DnsLabel = "iris"
    workers: int = Field(default=2, ge=1, le=32)
    """Gunicorn workers per model container; about one per CPU of the limit."""
    max_batch_rows: int = Field(default=1000, ge=1, le=100_000)
    """Rows per request above which the model server answers 400."""
    predictors: list[PredictorConfig] = Field(min_length=1)
    training: TrainingConfig | None = None
    """When and on what the deployment retrains in the cluster (infra/training.py)."""

    @field_validator("predictors")
    @classmethod
    def _seldon_admission_rules(
        cls, predictors: list[PredictorConfig], info: ValidationInfo
    ) -> list[PredictorConfig]:
        """What Seldon's admission webhook would refuse, refused here before any deploy."""
        names = [p.name for p in predictors]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"predictor names must be unique; repeated: {', '.join(duplicates)}")
        shadows = [p for p in predictors if p.shadow]
        live = [p for p in predictors if not p.shadow]
        if len(shadows) > 1:
            raise ValueError(
                f"at most one shadow predictor is allowed; found {len(shadows)}: "
                + ", ".join(p.name for p in shadows)
            )
        if not live:
            raise ValueError("a shadow predictor needs at least one non-shadow predictor")
        if len(live) == 1 and live[0].traffic not in (None, 100):
            raise ValueError(
                f"a single non-shadow predictor takes all traffic: set traffic to 100 or leave "
                f"it unset (predictor '{live[0].name}' has {live[0].traffic})"
            )
        if len(live) > 1:
            if any(p.traffic is None for p in live):
                unset = ", ".join(p.name for p in live if p.traffic is None)
                raise ValueError(
                    f"with several non-shadow predictors each needs 'traffic'; missing on: {unset}"
                )
            total = sum(p.traffic or 0 for p in live)
            if total != 100:
                raise ValueError(
                    f"non-shadow 'traffic' must sum to exactly 100, got {total} "
                    f"({', '.join(f'{p.name}={p.traffic}' for p in live)})"
                )
        longest = max(len(p.name) for p in predictors)
        deployment_name = info.data.get("deployment_name", "")
        if len(deployment_name) + longest + len(MODEL_CONTAINER) + 2 > 63:
            raise ValueError(
                f"'deploymentName' plus the longest predictor name must stay within "
                f"{61 - len(MODEL_CONTAINER)} characters: Seldon names services "
                "'<deployment>-<predictor>-model' (max 63)"
            )
        return predictors


class ModelDeployment(PlatformComponent):
    """A SeldonDeployment with one predictor per configured model version.

    Non-shadow predictors share traffic by weight through Istio; the shadow predictor receives a
    mirrored copy of `mirrorPercent` of the requests and its answers are dropped.
    """

    resource: k8s.apiextensions.CustomResource

    def __init__(
        self,
        name: str,
        config: ServingConfig,
        *,
        image: pulumi.Input[str],
        tracking_uri: pulumi.Input[str],
        operator: pulumi.Resource,
        registry_login: RegistryLogin | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:serving:ModelDeployment", name, opts)
        pull_secrets = []
        if registry_login is not None:
            secret = credentials_secret(
                PULL_SECRET,
                namespace=config.namespace,
                data={".dockerconfigjson": registry_login.docker_config()},
                opts=self.child_opts(),
                secret_type="kubernetes.io/dockerconfigjson",
            )
            pull_secrets = [{"name": secret.metadata["name"]}]
        self.resource = k8s.apiextensions.CustomResource(
            name,
            api_version="machinelearning.seldon.io/v1",
            kind="SeldonDeployment",
            metadata={
                "name": config.deployment_name,
                "namespace": config.namespace,
                "labels": {"app.kubernetes.io/part-of": "mlops-platform"},
            },
            spec={
                "name": config.deployment_name,
                "protocol": "seldon",
                "predictors": [
                    _predictor_spec(p, _pod_spec(p, config, image, tracking_uri, pull_secrets))
                    for p in config.predictors
                ],
            },
            # The operator's admission webhooks must be up before a SeldonDeployment is applied.
            opts=self.child_opts(depends_on=[operator]),
        )
        self.register_outputs({"name": config.deployment_name})


def _predictor_spec(predictor: PredictorConfig, pod_spec: dict) -> dict:
    spec: dict = {
        "name": predictor.name,
        "replicas": predictor.replicas,
        "traffic": predictor.weight,
        "labels": {"version": predictor.version_label},
        "annotations": {"version": predictor.version_label},
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
    config: ServingConfig,
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
                    {"name": "MODEL_URI", "value": predictor.model_uri},
                    {"name": "MLFLOW_TRACKING_URI", "value": tracking_uri},
                    {"name": "GUNICORN_WORKERS", "value": str(config.workers)},
                    {"name": "MAX_BATCH_ROWS", "value": str(config.max_batch_rows)},
                ],
                "resources": predictor.resources.model_dump(),
                "readinessProbe": http_probe("/health/ping", SERVING_HTTP_PORT, initial_delay=10),
                "livenessProbe": http_probe("/health/ping", SERVING_HTTP_PORT, initial_delay=30),
                "securityContext": CONTAINER_SECURITY_CONTEXT,
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        "volumes": [scratch_volume()],
    }

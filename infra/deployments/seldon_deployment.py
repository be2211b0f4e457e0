"""A deployment's SeldonDeployment as a plain manifest: one predictor per model version, the
model container hardened and sized, the executor sized, the shadow mirrored."""

from typing import Any

from infra.deployments.config import (
    MODEL_CONTAINER,
    MODEL_METRICS_PORT,
    DeploymentConfig,
    PredictorConfig,
)
from infra.deployments.scaling import scaling_fields
from infra.deployments.versions import DeclaredVersion
from infra.internal_tls import ca_mount, ca_volume, mlflow_ca_env
from infra.labels import PART_OF
from infra.request_logging.builders import logger_spec
from infra.workloads import (
    CONTAINER_SECURITY_CONTEXT,
    SECRETS_AS_ENV_REASON,
    checkov_skips,
    http_probe,
    pod_security_context,
    scratch_volume,
)

SERVING_UID = 8888
"""The serving image's non-root user."""
SERVING_HTTP_PORT = 9000
"""The operator's default REST port for the model container (predictiveUnit.httpPort)."""
METRICS_PORT = {"name": "metrics", "containerPort": MODEL_METRICS_PORT}
"""Declared on every model container. Seldon 1.17.1 adds a `metrics` port only when the
container has none, numbering it from one counter across the whole SeldonDeployment (6000 for
the first predictor, 6001 for the next, ...): operator/apis/machinelearning.seldon.io/v1/
defaults.go@v1.17.1, `addMetricsPortAndIncrement`. The NetworkPolicy admits Prometheus on 6000."""
PULL_SECRET = "model-image-pull"
"""Name of the image pull Secret in each deployment's namespace."""


def seldon_deployment(
    config: DeploymentConfig,
    *,
    versions: dict[str, DeclaredVersion],
    namespace: Any,
    image: Any,
    tracking_uri: Any,
    login_env: list[dict],
    pull_secrets: list[dict],
    executor: dict,
    annotations: dict[str, str] | None = None,
) -> dict:
    """The SeldonDeployment of `config`; `versions` holds what each predictor serves (by
    predictor name), `login_env` the serving user's MLflow login, `executor` the resources of
    the executor the operator injects. The shadow also runs the champion's model to count
    disagreements on the mirrored requests (serving/shadow_comparison.py): the live predictor
    with the most traffic."""
    reference = max((p for p in config.predictors if not p.shadow), key=lambda p: p.weight)
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {
            "name": config.name,
            "namespace": namespace,
            "labels": dict(PART_OF),
            # checkov cannot see into a SeldonDeployment; tests/ci applies its checks to the
            # predictor pod specs with these skips.
            "annotations": {
                **(annotations or {}),
                **checkov_skips(
                    CKV_K8S_35=SECRETS_AS_ENV_REASON,
                    CKV_K8S_40="uid 8888 is Seldon Core's serving user, shared by the image "
                    "(serving/Dockerfile USER) and the operator-injected executor; non-root",
                ),
            },
        },
        "spec": {
            "name": config.name,
            "protocol": "seldon",
            "predictors": [
                _predictor_spec(
                    config,
                    p,
                    versions[p.name],
                    _pod_spec(
                        p,
                        _model_env(versions[p.name])
                        + (_compare_env(versions[reference.name]) if p.shadow else []),
                        config,
                        image,
                        tracking_uri,
                        login_env,
                        pull_secrets,
                    ),
                    executor,
                )
                for p in config.predictors
            ],
        },
    }


def _predictor_spec(
    config: DeploymentConfig,
    predictor: PredictorConfig,
    version: DeclaredVersion,
    pod_spec: dict,
    executor: dict,
) -> dict:
    replicas, scaling = scaling_fields(predictor.replicas, predictor.autoscaling)
    graph: dict = {
        "name": MODEL_CONTAINER,
        "type": "MODEL",
        "endpoint": {"type": "REST"},
        "children": [],
    }
    # Not on the shadow: its answers are dropped, so they are not what callers were told, and
    # a mirrored request carrying a Seldon-Puid would log a second response under the same id.
    if config.request_logging is not None and not predictor.shadow:
        graph["logger"] = logger_spec(config.namespace)
    spec: dict = {
        "name": predictor.name,
        **replicas,
        "traffic": predictor.weight,
        # The version as the predictor's label and annotation; the model server's
        # `predictor_version` metric label reads the labels (seldon-core 1.19 Python package,
        # env_utils.get_predictor_version: PREDICTOR_LABELS).
        "labels": {"version": version.label},
        "annotations": {"version": version.label},
        "graph": graph,
        # hpaSpec/pdbSpec: infra/deployments/scaling.py (the operator's HPA and PDB per
        # componentSpec).
        "componentSpecs": [{"spec": pod_spec, **scaling}],
        # The executor container the operator adds to every predictor pod; without this it
        # takes the operator's default 500m/512Mi (seldon-core v1.17.1
        # operator/controllers/seldondeployment_engine.go, SvcOrchSpec.Resources).
        "svcOrchSpec": {"resources": executor},
    }
    if predictor.shadow:
        spec["shadow"] = True
    return spec


def _model_env(version: DeclaredVersion) -> list[dict]:
    """Which model the container loads, and the digest it must verify before loading it."""
    return [
        {"name": "MODEL_URI", "value": version.uri},
        {"name": "MODEL_DIGEST", "value": version.digest},
    ]


def _compare_env(version: DeclaredVersion) -> list[dict]:
    """The champion's model a shadow compares its candidate with, digest-verified the same way."""
    return [
        {"name": f"COMPARE_{item['name']}", "value": item["value"]} for item in _model_env(version)
    ]


def _pod_spec(
    predictor: PredictorConfig,
    model_env: list[dict],
    config: DeploymentConfig,
    image: Any,
    tracking_uri: Any,
    login_env: list[dict],
    pull_secrets: list[dict],
) -> dict:
    return {
        "imagePullSecrets": pull_secrets,
        # The model server talks to MLflow only; it has no business with the Kubernetes API.
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(SERVING_UID),
        "containers": [
            {
                "name": MODEL_CONTAINER,
                "image": image,
                "env": [
                    *model_env,
                    {"name": "MLFLOW_TRACKING_URI", "value": tracking_uri},
                    mlflow_ca_env(),
                    *login_env,
                    {"name": "SERVER_WORKERS", "value": str(config.workers)},
                    {"name": "MAX_BATCH_ROWS", "value": str(config.max_batch_rows)},
                    {"name": "FEEDBACK_REWARD_MIN", "value": repr(config.feedback.reward_min)},
                    {"name": "FEEDBACK_REWARD_MAX", "value": repr(config.feedback.reward_max)},
                ],
                "ports": [METRICS_PORT],
                "resources": config.resources_of(predictor).model_dump(),
                # The server either answers or exits with its reason within ~15 s (MLflow calls
                # bounded in serving/Dockerfile); 24 x 5 s covers a slow model load on top, and
                # liveness only starts counting once this has passed.
                "startupProbe": {
                    **http_probe("/health/ping", SERVING_HTTP_PORT, initial_delay=0),
                    "periodSeconds": 5,
                    "failureThreshold": 24,
                },
                "readinessProbe": http_probe("/health/ping", SERVING_HTTP_PORT, initial_delay=10),
                "livenessProbe": http_probe("/health/ping", SERVING_HTTP_PORT, initial_delay=30),
                "securityContext": CONTAINER_SECURITY_CONTEXT,
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, ca_mount()],
            }
        ],
        "volumes": [scratch_volume(), ca_volume()],
    }

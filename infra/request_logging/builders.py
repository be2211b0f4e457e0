"""Pure builders of the request logging: the executor's `logger` of a logged deployment, and the
sink (Deployment and Service) of a serving namespace. Config in, plain dicts out."""

import json

from infra.deployments.config import DeploymentConfig
from infra.internal_tls import ca_mount, ca_volume, mlflow_ca_env
from infra.workloads import (
    CONTAINER_SECURITY_CONTEXT,
    checkov_skips,
    http_probe,
    pod_security_context,
    resources,
    scratch_volume,
)

SINK_NAME = "request-log"
SINK_PORT = 8080
SINK_PORT_NAME = "http-events"
"""Named by protocol, so Istio treats the Service as HTTP."""
SINK_UID = 10001
"""The training image's non-root user (model/Dockerfile); the sink runs in that image."""
DESTINATION = "mlflow-artifacts:/0/request-logs"
"""Where the versions go: MLflow's proxied artifact store, under the Default experiment (0),
where the request-log user writes and the pipeline user reads (infra/mlflow/auth.py); per
deployment `<namespace>/<deployment>/labelled.parquet` and `versions/<stamp>/`."""
DATABASE_DIR = "/var/lib/request-log"
LABELS = {"app.kubernetes.io/name": SINK_NAME, "app.kubernetes.io/part-of": "mlops-platform"}


def logger_spec(namespace: str) -> dict:
    """The graph node's `logger` (seldon-core v1.17.1 `seldondeployment_types.go`, `Logger`):
    mode `all`, the only one under which the executor logs requests, responses and feedback
    (`executor/predictor/predictor_process.go`, `Predict` and `Feedback`), to the namespace's
    sink."""
    return {"url": f"http://{SINK_NAME}.{namespace}.svc.cluster.local:{SINK_PORT}/", "mode": "all"}


def sink_settings(deployments: list[DeploymentConfig]) -> str:
    """REQUEST_LOG_DEPLOYMENTS of the sink (request_log/settings.py) for these deployments."""
    settings = {}
    for deployment in deployments:
        logging = deployment.request_logging
        if logging is None:
            continue
        entry = {
            "sampleRate": logging.sample_rate,
            "retentionDays": logging.retention_days,
            "exportIntervalMinutes": logging.export_interval_minutes,
            "labelColumn": logging.label_column,
        }
        if logging.feature_names:
            entry["featureNames"] = list(logging.feature_names)
        settings[deployment.key] = entry
    return json.dumps(settings, sort_keys=True)


def sink_pod_spec(
    image, tracking_uri, settings: str, login_env: list[dict], pull_secrets: list[dict]
) -> dict:
    """One sink container in the training image, hardened like the training Job."""
    return {
        # The sink talks to MLflow only, never to the Kubernetes API.
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(SINK_UID),
        "imagePullSecrets": pull_secrets,
        # SIGTERM makes the sink write a last version before it exits (request_log/server.py).
        "terminationGracePeriodSeconds": 60,
        "containers": [
            {
                "name": SINK_NAME,
                "image": image,
                "command": ["python", "-m", "request_log"],
                "env": [
                    {"name": "REQUEST_LOG_DEPLOYMENTS", "value": settings},
                    {"name": "REQUEST_LOG_DESTINATION", "value": DESTINATION},
                    {"name": "REQUEST_LOG_PORT", "value": str(SINK_PORT)},
                    {"name": "REQUEST_LOG_DATABASE", "value": f"{DATABASE_DIR}/join.sqlite"},
                    {"name": "MLFLOW_TRACKING_URI", "value": tracking_uri},
                    mlflow_ca_env(),
                    {"name": "HOME", "value": "/tmp"},
                    *login_env,
                ],
                "ports": [{"name": SINK_PORT_NAME, "containerPort": SINK_PORT}],
                "resources": resources("50m", "192Mi", "1", "512Mi"),
                "readinessProbe": http_probe("/health/ping", SINK_PORT_NAME, 5),
                "livenessProbe": http_probe("/health/ping", SINK_PORT_NAME, 15),
                "securityContext": CONTAINER_SECURITY_CONTEXT,
                "volumeMounts": [
                    {"name": "tmp", "mountPath": "/tmp"},
                    {"name": "joins", "mountPath": DATABASE_DIR},
                    ca_mount(),
                ],
            }
        ],
        "volumes": [
            scratch_volume(size="256Mi"),
            scratch_volume("joins", size="2Gi"),
            ca_volume(),
        ],
    }


def sink_deployment(namespace: str, pod_spec: dict) -> dict:
    """One replica: the join table is one SQLite file. While it restarts the executors' logger
    drops what it cannot send; predictions are not held (docs/serving.md)."""
    return {
        "metadata": {
            "name": SINK_NAME,
            "namespace": namespace,
            "labels": LABELS,
            "annotations": checkov_skips(
                CKV_K8S_35="the MLflow client reads its login only from "
                "MLFLOW_TRACKING_USERNAME/_PASSWORD, as every platform pod (docs/security.md)"
            ),
        },
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": LABELS},
            "template": {"metadata": {"labels": LABELS}, "spec": pod_spec},
        },
    }


def sink_service(namespace: str) -> dict:
    return {
        "metadata": {"name": SINK_NAME, "namespace": namespace, "labels": LABELS},
        "spec": {
            "selector": LABELS,
            "ports": [{"name": SINK_PORT_NAME, "port": SINK_PORT, "targetPort": SINK_PORT_NAME}],
        },
    }

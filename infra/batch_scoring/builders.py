"""Pure builder of a deployment's batch-scoring CronJob: the training image runs
`python -m model score` on the version and digest the SeldonDeployment declares for the scoring
predictor, hardened like the training Job (non-root, read-only root, no API token)."""

from infra.deployments.config import DeploymentConfig
from infra.deployments.versions import DeclaredVersion
from infra.internal_tls import ca_mount, ca_volume, mlflow_ca_env
from infra.workloads import (
    CONTAINER_SECURITY_CONTEXT,
    checkov_skips,
    pod_security_context,
    resources,
    scratch_volume,
)

SCORE_CONTAINER = "score"
SCORING_UID = 10001
"""The training image's non-root user (model/Dockerfile)."""
RUN_DEADLINE_SECONDS = 6 * 3600
LABELS = {"app.kubernetes.io/name": "batch-scoring", "app.kubernetes.io/part-of": "mlops-platform"}


def cronjob_name(deployment: str) -> str:
    """`<deployment>-scoring`; the DNS-label length of deployment names leaves room for it."""
    return f"{deployment}-scoring"[:52].rstrip("-")


def model_arguments(version: DeclaredVersion) -> list[str]:
    """`--model` and `--digest` naming exactly what the predictor serves: its pinned version and
    digest (`pins.<stack>.yaml`), the same MODEL_URI and MODEL_DIGEST its pods verify."""
    return ["--model", f"{version.model}/{version.version}", "--digest", version.digest]


def scoring_cronjob(
    deployment: DeploymentConfig,
    version: DeclaredVersion,
    *,
    image,
    tracking_uri,
    login_env: list[dict],
    pull_secrets: list[dict],
) -> dict:
    """metadata and spec of the CronJob."""
    scoring = deployment.batch_scoring
    labels = {**LABELS, "mlops-platform/deployment": deployment.name}
    pod_spec = {
        "restartPolicy": "Never",
        # Scoring talks to MLflow only, never to the Kubernetes API.
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(SCORING_UID),
        "imagePullSecrets": pull_secrets,
        "containers": [
            {
                "name": SCORE_CONTAINER,
                "image": image,
                "command": ["python", "-m", "model", "score"],
                "args": [
                    *model_arguments(version),
                    "--input",
                    scoring.input,
                    "--output",
                    scoring.output,
                    "--chunk-rows",
                    str(scoring.chunk_rows),
                    "--json",
                ],
                "env": [
                    {"name": "MLFLOW_TRACKING_URI", "value": tracking_uri},
                    mlflow_ca_env(),
                    {"name": "HOME", "value": "/tmp"},
                    *login_env,
                ],
                "resources": resources("250m", "1Gi", "2", "2Gi"),
                "securityContext": CONTAINER_SECURITY_CONTEXT,
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, ca_mount()],
            }
        ],
        # The input is downloaded to, and the output written on, this volume.
        "volumes": [scratch_volume(size="8Gi"), ca_volume()],
    }
    return {
        "metadata": {
            "name": cronjob_name(deployment.name),
            "namespace": deployment.namespace,
            "labels": labels,
            "annotations": checkov_skips(
                CKV_K8S_35="the MLflow client reads its login only from "
                "MLFLOW_TRACKING_USERNAME/_PASSWORD, as every platform pod (docs/security.md)"
            ),
        },
        "spec": {
            "schedule": scoring.schedule,
            "suspend": scoring.suspend,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": {
                    "backoffLimit": 1,
                    "activeDeadlineSeconds": RUN_DEADLINE_SECONDS,
                    "ttlSecondsAfterFinished": 24 * 3600,
                    "template": {"metadata": {"labels": labels}, "spec": pod_spec},
                },
            },
        },
    }

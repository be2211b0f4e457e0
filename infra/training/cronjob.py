"""A deployment's training CronJob as a plain manifest: `python -m model train` pulls the
declared data version with dvc.api (or reads the dataset from its URI), skips it when its hash is
unchanged, else logs its version, trains, registers and gates a version, and moves `candidate`
if it passed."""

from typing import Any

from infra.data_versioning.builders import REMOTE_URL_ENV, data_version_args
from infra.internal_tls import ca_mount, ca_volume, mlflow_ca_env
from infra.training.admission import TRAINING_CRONJOB_LABELS
from infra.training.config import (
    GATE_FAILED_EXIT_CODE,
    LEDGER_KEY_KEY,
    RETRAIN_COOLDOWN_SECONDS,
    RUN_DEADLINE_SECONDS,
    TRAIN_CONTAINER,
    TRAINING_UID,
    TrainingTarget,
    cronjob_name,
)
from infra.workloads import (
    CONTAINER_SECURITY_CONTEXT,
    pod_security_context,
    resources,
    scratch_volume,
    secret_env,
)


def pull_secrets(pull_secret: Any) -> dict:
    """The pod spec's `imagePullSecrets`, when the registry needs a login (`pull_secret` names
    the Secret; None: no login)."""
    return {"imagePullSecrets": [{"name": pull_secret}]} if pull_secret is not None else {}


def training_cronjob(
    target: TrainingTarget,
    *,
    image: Any,
    tracking_uri: Any,
    dvc_remote: Any,
    login_env: list[dict],
    ledger_secret: Any,
    pull_secret: Any,
) -> dict:
    """The CronJob (`metadata` and `spec`); `login_env` carries the pipeline user's MLflow
    login from its Secret, which is also the DVC remote's (`dvc_remote`, its URL);
    `ledger_secret` names the Secret of the ledger's signing key: the run records its
    `candidate` as a signed ledger entry (model/promotion.py)."""
    data = target.training.data
    # Either way the run retrains on new data only: the same rows again would reproduce the
    # latest version, so it stops there (exit 0) and says so.
    source = (
        data_version_args(data)
        if data
        else ["--data", target.training.dataset, "--skip-unchanged"]
    )
    env = [
        {"name": "MLFLOW_TRACKING_URI", "value": tracking_uri},
        mlflow_ca_env(),
        {"name": REMOTE_URL_ENV, "value": dvc_remote},
        {"name": "HOME", "value": "/tmp"},
        *login_env,
        secret_env("MODEL_LEDGER_KEY", ledger_secret, LEDGER_KEY_KEY),
    ]
    labels = {**TRAINING_CRONJOB_LABELS, "mlops-platform/deployment": target.deployment}
    pod_spec = {
        "restartPolicy": "Never",
        # Training talks to MLflow only, never to the Kubernetes API.
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(TRAINING_UID),
        **pull_secrets(pull_secret),
        "containers": [
            {
                "name": TRAIN_CONTAINER,
                "image": image,
                "command": ["python", "-m", "model", "train"],
                "args": [
                    "--model-name",
                    target.registered_model,
                    *source,
                    "--json",
                ],
                "env": env,
                "resources": resources("500m", "1Gi", "2", "2Gi"),
                "securityContext": CONTAINER_SECURITY_CONTEXT,
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, ca_mount()],
            }
        ],
        "volumes": [scratch_volume(size="2Gi"), ca_volume()],
    }
    return {
        "metadata": {
            "name": cronjob_name(target.deployment),
            "namespace": target.namespace,
            "labels": labels,
            "annotations": {
                "checkov.io/skip1": "CKV_K8S_35=the MLflow client reads its login only from "
                "MLFLOW_TRACKING_USERNAME/_PASSWORD, as every platform pod (docs/security.md)"
            },
        },
        "spec": {
            "schedule": target.training.schedule,
            "suspend": target.training.suspend,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": {
                    # One retry for faults (MLflow unreachable, node lost); a failed gate ends
                    # the Job at once, since the same data gives the same verdict.
                    "backoffLimit": 1,
                    "podFailurePolicy": {
                        "rules": [
                            {
                                "action": "FailJob",
                                "onExitCodes": {
                                    "containerName": TRAIN_CONTAINER,
                                    "operator": "In",
                                    "values": [GATE_FAILED_EXIT_CODE],
                                },
                            }
                        ]
                    },
                    "activeDeadlineSeconds": RUN_DEADLINE_SECONDS,
                    "ttlSecondsAfterFinished": RETRAIN_COOLDOWN_SECONDS,
                    "template": {"metadata": {"labels": labels}, "spec": pod_spec},
                },
            },
        },
    }

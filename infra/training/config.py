"""Stack keys, targets and names of continuous training (pydantic only)."""

from dataclasses import dataclass

from pydantic import Field, SecretStr

from infra.config_types import CamelModel, DnsLabel
from infra.deployments.config import DeploymentConfig, TrainingConfig
from infra.model_image.config import DIGEST_REFERENCE
from infra.model_image.source import REPO_ROOT, ImageSource
from infra.model_monitoring.rules import ACCURACY_DROP_ALERT, FEATURE_DRIFT_ALERT
from infra.prometheus_stack.config import RELEASE_NAME as PROMETHEUS_RELEASE
from infra.training.admission import TRIGGER_ACCOUNT

TRAINING_SOURCE = ImageSource(
    context=REPO_ROOT,
    dockerfile=REPO_ROOT / "model" / "Dockerfile",
    content=(
        REPO_ROOT / "model",
        REPO_ROOT / "continuous_training",
        REPO_ROOT / ".dockerignore",
    ),
)
"""The training image: `model/` (training, gate, registry) and `continuous_training/` (the retrain
trigger), built from the repository root (`.dockerignore` keeps the rest out)."""

TRAINING_UID = 10001
"""The training image's non-root user (model/Dockerfile)."""
TRIGGER_PORT = 8080
TRIGGER_PORT_NAME = "http-webhook"
"""Named by protocol, so Istio treats the Service as HTTP rather than opaque TCP."""
TRIGGER_NAME = TRIGGER_ACCOUNT
TOKEN_KEY = "token"
LEDGER_KEY_KEY = "key"
"""The key of the ledger key's Secret in each training namespace."""
TOKEN_DIR = "/var/run/secrets/retrain-webhook"
TRAIN_CONTAINER = "train"
RUN_DEADLINE_SECONDS = 3600
"""A training run that takes longer is stopped (and counts as failed)."""
GATE_FAILED_EXIT_CODE = 3
"""`python -m model train` exits 3 when the quality gate fails: a verdict, not a fault to retry."""
RETRAIN_COOLDOWN_SECONDS = 6 * 3600
"""How long a finished run's Job stays; while it exists the trigger starts no new run."""
RETRAIN_ALERTS = (FEATURE_DRIFT_ALERT, ACCURACY_DROP_ALERT)
"""The platform's alerts that ask for a retrain: the inputs drifted, or the feedback says the
model got worse. Never a 5xx (`ModelErrorRatioHigh`): retraining cannot fix a failing server."""
ALERTMANAGER_PODS = {
    "alertmanager": f"{PROMETHEUS_RELEASE}-alertmanager",
    "app.kubernetes.io/managed-by": "prometheus-operator",
}
"""The selector labels the Prometheus operator v0.85.0 puts on the pods of an Alertmanager
(`pkg/alertmanager/operator.go`, `makeSelectorLabels`: `alertmanager: <CR name>`, managed-by
`prometheus-operator`); kube-prometheus-stack 77.10.0 names its CR `<fullname>-alertmanager`
(`templates/_helpers.tpl`, `kube-prometheus-stack.alertmanager.crname`), fullname being the
release name, which contains the chart's. A pod others may create in `monitoring` with just
`app.kubernetes.io/name: alertmanager` is not enough."""
MAX_CRONJOB_NAME = 52
"""The CronJob controller appends an 11-character suffix to Job names, which must stay <= 63."""


class TrainingImageConfig(CamelModel):
    """Stack keys for where the training image lives (same registry as the serving image)."""

    training_image_repository: str = Field(
        default="mlops/model-training", pattern=r"^[a-z0-9._\-/]+$"
    )
    training_image_prebuilt_ref: str = Field(default="", pattern=f"^$|{DIGEST_REFERENCE}")
    model_ledger_key: SecretStr | None = None
    """The promotion ledger's signing key (`MODEL_LEDGER_KEY`, the CI secret's value): a training
    run records its `candidate` as a signed ledger entry. Secret stack key `modelLedgerKey`."""


@dataclass(frozen=True)
class TrainingTarget:
    """One deployment that retrains: where it runs and which registered model it trains."""

    deployment: DnsLabel
    namespace: DnsLabel
    registered_model: str
    training: TrainingConfig


def training_targets(deployments: list[DeploymentConfig]) -> list[TrainingTarget]:
    """The deployments with a `training` key; each trains the model of its first live predictor
    (the champion). Checks the CronJob names before anything is declared."""
    targets = []
    for deployment in deployments:
        if deployment.training is None:
            continue
        cronjob_name(deployment.name)
        live = next(p for p in deployment.predictors if not p.shadow)
        targets.append(
            TrainingTarget(
                deployment=deployment.name,
                namespace=deployment.namespace,
                registered_model=live.registered_model,
                training=deployment.training,
            )
        )
    return targets


def cronjob_name(deployment: str) -> str:
    name = f"{deployment}-training"
    if len(name) > MAX_CRONJOB_NAME:
        raise ValueError(
            f"deployment name {deployment!r} is too long for its training CronJob "
            f"{name!r}: at most {MAX_CRONJOB_NAME - len('-training')} characters"
        )
    return name

"""Stack key `deployments`: the models the platform serves, one entry per SeldonDeployment.

Each entry names its predictors (registered model versions with traffic shares) and, optionally,
serving defaults, monitoring overrides, a training schedule and a rollout plan. Seldon's own
admission rules are enforced here per deployment, so a bad config never reaches a cluster.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Literal, Self

from cronsim import CronSim, CronSimError
from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from analysis.rollout import steps_problems
from infra.config_types import (
    DNS_LABEL_PATTERN,
    CamelModel,
    ComputeResources,
    DnsLabel,
    JsonList,
    ObjectConfig,
    ResourceAmounts,
    memory_bytes,
)
from infra.data_versioning.config import DataVersion
from infra.deployments.scaling import MAX_REPLICAS, AutoscalingConfig
from infra.model_monitoring.config import MonitoringConfig, PromDuration
from infra.request_logging.config import RequestLoggingConfig

MODEL_CONTAINER = "model"
"""Graph node name; Seldon requires the custom container to carry the same name."""

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
"""Namespaces Kubernetes itself owns; models never run there."""

DEFAULT_NAMESPACE = "seldon"
MODEL_METRICS_PORT = 6000
"""The `metrics` port declared on every model container (infra/deployments/component.py), which
Prometheus scrapes."""

ModelReference = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]+(/[1-9][0-9]*|@[A-Za-z0-9_\-]+)$")
]
"""A registered model reference: '<name>/<version>' or '<name>@<alias>'."""


def _plain_path(uri: str) -> str:
    segments = uri.removeprefix("mlflow-artifacts:/").split("/")
    if any(segment in ("", ".", "..") for segment in segments) or "%" in uri or "\\" in uri:
        raise ValueError(
            "a dataset path takes no '.', '..' or empty segments, no '%'-escapes and no "
            f"backslashes: it must stay under its experiment's artifact root, got {uri!r}"
        )
    return uri


DatasetUri = Annotated[
    str,
    StringConstraints(pattern=r"^mlflow-artifacts:/[0-9]+/(\S*/)?[^/\s]+\.(csv|parquet)$"),
    AfterValidator(_plain_path),
]
"""A CSV or Parquet file in the platform's artifact store under an experiment's artifact root,
read through MLflow's proxied artifact API by the training Job (infra/training/), e.g.
'mlflow-artifacts:/0/datasets/wine.csv' (experiment 0 is MLflow's Default). MLflow's basic-auth
judges a proxied artifact by the experiment id leading its path and refuses non-admins a path
that names none (mlflow 3.17 `mlflow/server/auth/__init__.py`,
`_get_experiment_id_from_view_args`)."""


MODEL_MEMORY_LIMIT_FLOOR = "256Mi"
"""The model server alone holds ~240 MiB PSS after loading (docs/sizing.md)."""


class Resources(ComputeResources):
    # Measured: two workers plus Seldon's metrics, gRPC and manager processes hold ~870 MiB PSS.
    # From the measured server (~240 MiB PSS after load, docs/sizing.md): x1.5 rounded up to
    # 128Mi for the request, twice that as the limit for large batches and a registry download.
    requests: ResourceAmounts = ResourceAmounts(cpu="250m", memory="384Mi")
    limits: ResourceAmounts = ResourceAmounts(cpu="2", memory="768Mi")

    @field_validator("limits")
    @classmethod
    def _room_for_the_server(cls, limits: ResourceAmounts) -> ResourceAmounts:
        if memory_bytes(limits.memory) < memory_bytes(MODEL_MEMORY_LIMIT_FLOOR):
            raise ValueError(
                f"memory limit {limits.memory} is below {MODEL_MEMORY_LIMIT_FLOOR}: the model "
                "server alone holds ~240 MiB after loading (docs/sizing.md) and would be "
                "OOM-killed"
            )
        return limits


class PredictorConfig(ObjectConfig):
    """One predictor of a SeldonDeployment: a model version, its traffic share and capacity.

    `resources` unset takes the deployment's default. `replicas` fixes the pod count;
    `autoscaling` lets an autoscaler choose it within a range instead (one or the other).
    """

    name: DnsLabel
    model: ModelReference
    traffic: int | None = Field(default=None, ge=0, le=100)
    replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    autoscaling: AutoscalingConfig | None = None
    shadow: bool = False
    mirror_percent: int | None = Field(default=None, ge=1, le=100)
    resources: Resources | None = None

    @model_validator(mode="after")
    def _replicas_or_autoscaling(self) -> Self:
        if self.autoscaling is not None and "replicas" in self.model_fields_set:
            raise ValueError(
                "set either 'replicas' (a fixed count) or 'autoscaling' (minReplicas to "
                "maxReplicas), not both: the autoscaler owns the count"
            )
        return self

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
    def min_replicas(self) -> int:
        """Pods that always run: the fixed count, or the autoscaler's minimum."""
        return self.autoscaling.min_replicas if self.autoscaling else self.replicas

    @property
    def max_replicas(self) -> int:
        """Pods that may run at a peak: the fixed count, or the autoscaler's maximum."""
        return self.autoscaling.max_replicas if self.autoscaling else self.replicas

    @property
    def registered_model(self) -> str:
        """The registered model name ('iris' of 'iris@champion' or 'iris/3')."""
        return re.split(r"[@/]", self.model, maxsplit=1)[0]

    @property
    def alias(self) -> str | None:
        """The alias of an '<name>@<alias>' reference, None for a pinned version."""
        return self.model.partition("@")[2] or None

    @property
    def version(self) -> str | None:
        """The version of a '<name>/<version>' reference, None for an alias."""
        return self.model.partition("/")[2] or None


_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
                ("day of week", 0, 6))  # fmt: skip
_CRON_NAMES = {
    "month": "jan feb mar apr may jun jul aug sep oct nov dec".split(),
    "day of week": "sun mon tue wed thu fri sat".split(),
}
_CRON_ITEM = re.compile(r"^(\*|(?P<low>\w+)(-(?P<high>\w+))?)(/(?P<step>[1-9][0-9]*))?$", re.ASCII)


def _cron_problem(schedule: str) -> str | None:
    """Why Kubernetes would refuse `schedule`, or None.

    The CronJob controller parses with robfig/cron v3.0.1 `ParseStandard` (kubernetes v1.36
    `pkg/apis/batch/validation/validation.go`, `validateScheduleFormat`): five fields, ASCII
    numbers (`parser.go`, `mustParseInt`: `strconv.Atoi`), day of week 0-6 (`spec.go`, `dow`
    bounds), no `L`/`W`/`#`, and a range's start not beyond its end (`parser.go`, `getRange`).
    cronsim (pinned) then checks the expression as a whole: reversed ranges, and dates that
    never come (`0 3 31 2 *`).
    """
    fields = schedule.split()
    if len(fields) != 5:
        return f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
    for text, (label, lowest, highest) in zip(fields, _CRON_FIELDS, strict=True):
        names = _CRON_NAMES.get(label, [])
        for item in text.split(","):
            match = _CRON_ITEM.match(item)
            if not match:
                return f"{label} field {text!r} is not '*', 'N', 'N-M', a list or a '/step'"
            for bound in (match["low"], match["high"]):
                if bound is None:
                    continue
                if bound.lower() in names:
                    continue
                if not bound.isdigit() or not lowest <= int(bound) <= highest:
                    return f"{label} field {text!r}: {bound!r} is outside {lowest}-{highest}"
    try:
        CronSim(schedule, datetime(2026, 1, 1, tzinfo=UTC))
    except CronSimError as error:
        return f"Kubernetes would refuse or never run it: {error}"
    return None


def _kubernetes_cron(schedule: str) -> str:
    problem = _cron_problem(schedule)
    if problem:
        raise ValueError(f"{problem} (got {schedule!r})")
    return schedule


CronSchedule = Annotated[str, AfterValidator(_kubernetes_cron)]
"""A five-field cron expression the CronJob controller accepts and that fires."""


class TrainingConfig(ObjectConfig):
    """When and on what the deployment's model retrains in the cluster (a CronJob)."""

    schedule: CronSchedule
    """Five-field cron expression, e.g. '0 3 * * 0' (Sundays 03:00, the cluster's time zone)."""
    data: DataVersion | None = None
    """The DVC data version to train on (infra/data_versioning/config.py)."""
    dataset: DatasetUri | None = None
    """Instead of `data`: a mutable file in the artifact store (no data version recorded)."""
    suspend: bool = False
    """Pause scheduled retraining without removing it."""
    retrain_group_wait: PromDuration = "30s"
    """How long Alertmanager gathers the deployment's retrain alerts before its first webhook to
    the trigger (the AlertmanagerConfig route's `groupWait`)."""

    @model_validator(mode="after")
    def _one_data_source(self) -> Self:
        if (self.data is None) == (self.dataset is None):
            raise ValueError(
                "give exactly one of `data` ({repo, rev}: a DVC data version) or `dataset` (a "
                "file in the artifact store)"
            )
        return self


ScoringInputUri = Annotated[
    str,
    StringConstraints(pattern=r"^mlflow-artifacts:/0/scoring/(\S*/)?[^/\s]+\.csv$"),
    AfterValidator(_plain_path),
]
"""A CSV file in the artifact store under `0/scoring/`, the only files besides the served
versions the scoring user reads (`infra/scripts/artifact_writes.py`)."""

ScoringOutputUri = Annotated[
    str,
    StringConstraints(pattern=r"^mlflow-artifacts:/0/scoring/(\S*/)?$"),
    AfterValidator(lambda uri: _plain_path(uri.removesuffix("/")) + "/"),
]
"""A folder in the artifact store under `0/scoring/` (ending in '/'); each run writes a new
file into it, the only place the scoring user writes (`MLFLOW_PLATFORM_SCORING_OUTPUTS`)."""


class BatchScoringConfig(ObjectConfig):
    """A scheduled in-cluster `python -m model score` (a CronJob) with exactly the version and
    digest the deployment's `predictor` serves."""

    schedule: CronSchedule
    """Five-field cron expression, e.g. '0 2 * * *' (the cluster's time zone)."""
    input: ScoringInputUri
    output: ScoringOutputUri
    predictor: DnsLabel | None = None
    """Whose version scores; unset: the live predictor with the most traffic."""
    chunk_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    suspend: bool = False


class RolloutGuardrails(ObjectConfig):
    """Limits that stop a rollout whatever the A/B test says.

    `maxShadowDisagreement`: the share of mirrored rows on which the shadow (the candidate)
    answers differently from the champion; above it the canary does not start. `maxErrorRatio`
    (default: the deployment's `monitoring.errorRatioThreshold`) and `latencyTolerance` (the
    challenger's p95 may exceed the baseline's by this fraction; default: the rollout command's
    `--latency-tolerance`, 0.2) hold at every step.
    """

    max_shadow_disagreement: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    max_error_ratio: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None
    latency_tolerance: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] | None = None


class RolloutConfig(ObjectConfig):
    """A progressive rollout plan: the challenger's traffic percent at each step.

    The challenger stays at a step at least `minStepDuration`. At the last step (100) it is
    promoted when the A/B test says it is `better`, or `notWorse` than the champion by more
    than `margin` (an absolute difference of the compared metric, e.g. 0.02 of accuracy).
    """

    steps: list[Annotated[int, Field(ge=1, le=100)]] = Field(min_length=1)
    min_step_duration: PromDuration
    promote_when: Literal["better", "notWorse"] = "better"
    margin: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None
    guardrails: RolloutGuardrails

    @field_validator("steps")
    @classmethod
    def _increasing_to_100(cls, steps: list[int]) -> list[int]:
        problems = steps_problems(steps)
        if problems:
            raise ValueError("; ".join(problems))
        return steps

    @model_validator(mode="after")
    def _margin_with_not_worse(self) -> Self:
        if self.promote_when == "notWorse" and self.margin is None:
            raise ValueError("promoteWhen 'notWorse' needs a 'margin' (e.g. 0.02)")
        if self.promote_when == "better" and self.margin is not None:
            raise ValueError("'margin' is only valid with promoteWhen 'notWorse'")
        return self


class FeedbackConfig(ObjectConfig):
    """The reward range a deployment's feedback may carry: the model server answers 400 to a
    reward outside it (FEEDBACK_REWARD_MIN/MAX), so no caller can steer the A/B evidence with
    `1e30` or `-5`. The A/B analysis reads rewards as success rates, hence 0..1 by default."""

    reward_min: float = Field(default=0.0, allow_inf_nan=False)
    reward_max: float = Field(default=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _a_range(self) -> Self:
        if self.reward_min >= self.reward_max:
            raise ValueError(
                f"feedback.rewardMin ({self.reward_min}) must be below feedback.rewardMax "
                f"({self.reward_max}), e.g. rewardMin: 0, rewardMax: 1"
            )
        return self


class DeploymentConfig(ObjectConfig):
    """One entry of `deployments`: a SeldonDeployment with its predictors and their settings.

    `monitoring` holds the stack's `mlops-platform:monitoring` with this entry's overrides
    merged over it (`StackConfig` does the merge), so it is always the effective setting.
    """

    name: DnsLabel
    namespace: DnsLabel = DEFAULT_NAMESPACE
    workers: int = Field(default=2, ge=1, le=32)
    """Model-server workers per container (its SERVER_WORKERS); one per CPU of the limit."""
    max_batch_rows: int = Field(default=1000, ge=1, le=100_000)
    """Rows per request above which the model server answers 400."""
    feedback: FeedbackConfig = FeedbackConfig()
    resources: Resources = Resources()
    """Default resources of the predictors that set none."""
    monitoring: MonitoringConfig = MonitoringConfig()
    training: TrainingConfig | None = None
    request_logging: RequestLoggingConfig | None = None
    """Unset: the executor logs nothing."""
    batch_scoring: BatchScoringConfig | None = None
    """Unset: no scheduled scoring."""
    rollout: RolloutConfig | None = None
    predictors: list[PredictorConfig] = Field(min_length=1)

    @field_validator("namespace")
    @classmethod
    def _not_a_system_namespace(cls, namespace: str) -> str:
        if namespace in SYSTEM_NAMESPACES:
            raise ValueError(
                f"namespace {namespace!r} belongs to Kubernetes; models get their own namespace, "
                f"e.g. {DEFAULT_NAMESPACE!r}"
            )
        return namespace

    @field_validator("predictors")
    @classmethod
    def _seldon_admission_rules(cls, predictors: list[PredictorConfig]) -> list[PredictorConfig]:
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
        return predictors

    @model_validator(mode="after")
    def _service_names_fit(self) -> Self:
        longest = max(len(p.name) for p in self.predictors)
        if len(self.name) + longest + len(MODEL_CONTAINER) + 2 > 63:
            raise ValueError(
                f"'name' plus the longest predictor name must stay within "
                f"{61 - len(MODEL_CONTAINER)} characters: Seldon names services "
                "'<deployment>-<predictor>-model' (max 63)"
            )
        return self

    @model_validator(mode="after")
    def _scoring_predictor_is_live(self) -> Self:
        scoring = self.batch_scoring
        if scoring is None or scoring.predictor is None:
            return self
        live = [p.name for p in self.predictors if not p.shadow]
        if scoring.predictor not in live:
            raise ValueError(
                f"batchScoring.predictor {scoring.predictor!r} is not a live predictor of this "
                f"deployment; expected one of {live}"
            )
        return self

    @property
    def scoring_predictor(self) -> PredictorConfig:
        """The predictor whose version batch scoring uses."""
        live = [p for p in self.predictors if not p.shadow]
        named = self.batch_scoring.predictor if self.batch_scoring else None
        if named is not None:
            return next(p for p in live if p.name == named)
        return max(live, key=lambda p: p.weight)

    @model_validator(mode="after")
    def _rollout_needs_two_live_predictors(self) -> Self:
        live = [p for p in self.predictors if not p.shadow]
        if self.rollout is not None and len(live) < 2:
            raise ValueError(
                "'rollout' moves traffic from the champion to a challenger: it needs two "
                f"non-shadow predictors, this deployment has {len(live)}"
            )
        return self

    @property
    def key(self) -> str:
        """'<namespace>/<name>', unique within a stack."""
        return f"{self.namespace}/{self.name}"

    def resources_of(self, predictor: PredictorConfig) -> Resources:
        """The predictor's own resources, else the deployment's default."""
        return predictor.resources or self.resources


def unique_deployments(deployments: list[DeploymentConfig]) -> list[DeploymentConfig]:
    """Refuse an empty list and a (namespace, name) given twice."""
    if not deployments:
        raise ValueError(
            "at least one deployment is required, e.g. "
            "[{name: iris, predictors: [{name: champion, model: iris@champion}]}]"
        )
    keys = [d.key for d in deployments]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"(namespace, name) must be unique; repeated: {', '.join(repeated)}")
    return deployments


class RegistryConfig(CamelModel):
    """Stack key `registryUri`: the MLflow registry `python -m release pin` reads this stack's
    pins from when neither --tracking-uri nor MLFLOW_TRACKING_URI names one. The program itself
    never asks a registry: it serves the pin file (infra/deployments/pinned_versions.py)."""

    registry_uri: str = Field(default="", pattern=r"^$|^https?://[^\s/]+(/\S*)?$")
    """Empty: the stack's own MLflow at its public URL (`mlflowUrl`), given to the pin command."""


class ServingNamespacesConfig(CamelModel):
    """Stack key `servingNamespaces`: the namespaces the platform owns for models. It labels
    them and puts a default-deny policy in each, so a namespace someone else runs
    (`local-path-storage`, `kube-flannel`) is never taken by a typo: it must be declared here."""

    serving_namespaces: JsonList = Field(default=[DEFAULT_NAMESPACE], min_length=1)

    @field_validator("serving_namespaces")
    @classmethod
    def _ours_to_take(cls, namespaces: list[str]) -> list[str]:
        malformed = [n for n in namespaces if not re.match(DNS_LABEL_PATTERN, n)]
        if malformed:
            raise ValueError(f"namespaces {malformed} are not DNS-1123 labels")
        taken = [n for n in namespaces if n in SYSTEM_NAMESPACES or n.startswith("kube-")]
        if taken:
            raise ValueError(f"namespaces {taken} belong to Kubernetes or its add-ons")
        if len(set(namespaces)) != len(namespaces):
            raise ValueError(f"namespaces are listed twice: {namespaces}")
        return namespaces

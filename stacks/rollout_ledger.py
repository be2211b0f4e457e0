"""The rollout ledger: one MLflow run per rollout action, beside the promotion ledger.

Experiment `model-rollouts`; each run is tagged with the deployment, the challenger predictor and
its model reference, the action (`start`, `advance`, `rollback`, `keep`, `promote`), the
challenger's traffic after it, who, when, why and the A/B decision as evidence. The rollout reads
it back to know when the current step and the experiment began. A promotion is also written to
the promotion ledger by `model.promotion.promote`.
"""

import getpass
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from model.store import Store

EXPERIMENT = "model-rollouts"
_TAG = "rollout."


@dataclass(frozen=True)
class RolloutRecord:
    deployment: str
    namespace: str
    challenger: str
    model: str
    action: str
    traffic: int
    recorded_at: datetime
    actor: str
    reason: str
    evidence: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "recorded_at": self.recorded_at.isoformat(timespec="seconds")}


def record(store: Store, entry: RolloutRecord) -> RolloutRecord:
    """Write `entry` as a finished run of the rollout ledger."""
    tags = {
        **{key: str(value) for key, value in entry.as_dict().items() if key != "evidence"},
        "evidence": json.dumps(entry.evidence, separators=(",", ":"), sort_keys=True, default=str),
    }
    run = store.client.create_run(
        store.ensure_experiment(EXPERIMENT),
        run_name=f"{entry.namespace}/{entry.deployment} {entry.action} {entry.traffic}%",
        tags={f"{_TAG}{key}": value for key, value in tags.items()},
    )
    store.client.set_terminated(run.info.run_id)
    return entry


def history(store: Store, namespace: str, deployment: str, challenger: str) -> list[RolloutRecord]:
    """The rollout actions of one deployment's challenger predictor, oldest first."""
    experiment = store.client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    runs = store.client.search_runs(
        [experiment.experiment_id],
        filter_string=(
            f"tags.`{_TAG}namespace` = '{namespace}' and tags.`{_TAG}deployment` = "
            f"'{deployment}' and tags.`{_TAG}challenger` = '{challenger}'"
        ),
        max_results=10000,
    )
    records = [_from_tags(run.data.tags) for run in runs]
    return sorted(records, key=lambda entry: entry.recorded_at)


def login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _from_tags(tags: dict[str, str]) -> RolloutRecord:
    field = {key.removeprefix(_TAG): value for key, value in tags.items() if key.startswith(_TAG)}
    return RolloutRecord(
        deployment=field["deployment"],
        namespace=field["namespace"],
        challenger=field["challenger"],
        model=field["model"],
        action=field["action"],
        traffic=int(field["traffic"]),
        recorded_at=datetime.fromisoformat(field["recorded_at"]).astimezone(UTC),
        actor=field["actor"],
        reason=field["reason"],
        evidence=json.loads(field["evidence"]),
    )

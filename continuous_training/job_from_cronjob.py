"""A Job made from a CronJob's template exactly as `kubectl create job --from=cronjob/NAME` makes
it, plus annotations recording why it started; and the one-at-a-time rule for such runs.

kubectl v0.34 (`pkg/cmd/create/create_job.go`, `createJobFromCronJob`): the template's labels,
the template's annotations over `cronjob.kubernetes.io/instantiate: manual`, the template's spec,
and one owner reference to the CronJob with `controller: true` but without `blockOwnerDeletion`
(which would need the `cronjobs/finalizers` permission).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"
TERMINAL_CONDITIONS = ("Complete", "Failed")
"""A Job is finished once one of these conditions is True: kubernetes
pkg/controller/job/util/utils.go, `FinishedCondition` / `IsJobFinished`, which the CronJob and
TTL controllers use (read on the public source; the rule predates batch/v1 going GA)."""
REASON_PREFIX = "retrain.mlops-platform/"


@dataclass(frozen=True)
class RetrainReason:
    """Why a run starts: the alert that asked for it, its labels and when it arrived."""

    alert: str
    labels: dict[str, str]
    requested_at: datetime

    def annotations(self) -> dict[str, str]:
        return {
            f"{REASON_PREFIX}alert": self.alert,
            f"{REASON_PREFIX}labels": json.dumps(self.labels, sort_keys=True),
            f"{REASON_PREFIX}requested-at": self.requested_at.isoformat(timespec="seconds"),
        }


def job_from_cronjob(cronjob: dict, job_name: str, reason: RetrainReason) -> dict:
    """The Job body (API JSON, camelCase) for `cronjob` (also API JSON, as read from the API)."""
    metadata = cronjob["metadata"]
    template = cronjob["spec"]["jobTemplate"]
    template_metadata = template.get("metadata") or {}
    annotations = {
        INSTANTIATE_ANNOTATION: "manual",
        **(template_metadata.get("annotations") or {}),
        **reason.annotations(),
    }
    job_metadata: dict = {
        "name": job_name,
        "namespace": metadata["namespace"],
        "annotations": annotations,
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "name": metadata["name"],
                "uid": metadata["uid"],
                "controller": True,
            }
        ],
    }
    if template_metadata.get("labels"):
        job_metadata["labels"] = template_metadata["labels"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_metadata,
        "spec": template["spec"],
    }


def run_selector(cronjob: dict) -> str:
    """The label selector of every Job made from `cronjob`'s template, whoever started it (the
    schedule, the trigger, `make retrain`): the template's labels, which each run carries."""
    labels = ((cronjob["spec"]["jobTemplate"].get("metadata") or {}).get("labels")) or {}
    if not labels:
        raise ValueError(
            f"CronJob {cronjob['metadata']['name']} has no jobTemplate labels, so its runs "
            "cannot be told apart from other Jobs; label its jobTemplate"
        )
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def unfinished_runs(jobs: list[dict]) -> list[str]:
    """Names of the Jobs (API JSON) that are not finished. The CronJob's `concurrencyPolicy:
    Forbid` sees only the Jobs its controller started (`status.active`), so a run started any
    other way must check this list: one training run per deployment at a time."""
    return sorted(
        job["metadata"]["name"]
        for job in jobs
        if not any(
            c.get("type") in TERMINAL_CONDITIONS and c.get("status") == "True"
            for c in (job.get("status") or {}).get("conditions") or []
        )
    )

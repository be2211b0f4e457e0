"""A Job made from a CronJob's template exactly as `kubectl create job --from=cronjob/NAME` makes
it, plus annotations recording why it started.

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

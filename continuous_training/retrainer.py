"""Start one training run of a deployment from its CronJob, unless one is running or cooling down.

Debounce without a queue and without reading other Jobs: a triggered run always gets the same
name, `<cronjob>-retrain`, so the API server's name uniqueness refuses a second one (409) while
the first exists; the CronJob's `ttlSecondsAfterFinished` deletes it that long after it finished,
which is the cooldown. A run the schedule started shows in the CronJob's `status.active` (the
CronJob controller lists only the Jobs it created there: kubernetes
`pkg/controller/cronjob/cronjob_controllerv2.go`, `syncCronJob`, "UnexpectedJob"); a run started
by hand (`make retrain`) shows in neither, so the Jobs carrying the CronJob's template labels are
listed too and any unfinished one skips the request. A suspended CronJob starts nothing. So the
trigger needs `get` on CronJobs and `list` and `create` on Jobs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from continuous_training.job_from_cronjob import (
    RetrainReason,
    job_from_cronjob,
    run_selector,
    unfinished_runs,
)

LOG = logging.getLogger("continuous_training.retrainer")
TRIGGERED_SUFFIX = "-retrain"
"""Triggered runs are named `<cronjob>-retrain`: the name is the lock."""
API_TIMEOUT_S = 10
"""Per Kubernetes API call, so a stuck API server cannot hold the trigger's one worker."""


class UnknownDeployment(LookupError):
    """The webhook named a deployment this trigger has no training CronJob for."""


@dataclass(frozen=True)
class Outcome:
    """What a retrain request did: `started` a Job, or was `skipped` and why."""

    started: bool
    deployment: str
    job: str
    detail: str

    def as_dict(self) -> dict[str, str | bool]:
        return {
            "started": self.started,
            "deployment": self.deployment,
            "job": self.job,
            "detail": self.detail,
        }


class Retrainer:
    """Creates training Jobs in one namespace through the Kubernetes API."""

    def __init__(self, api: client.ApiClient, namespace: str, cronjobs: dict[str, str]) -> None:
        self._api = api
        self._batch = client.BatchV1Api(api)
        self._namespace = namespace
        self._cronjobs = dict(cronjobs)

    @property
    def namespace(self) -> str:
        """The namespace whose CronJobs this trigger runs (alerts must carry it)."""
        return self._namespace

    def retrain(self, deployment: str, reason: RetrainReason) -> Outcome:
        cronjob_name = self._cronjobs.get(deployment)
        if cronjob_name is None:
            raise UnknownDeployment(
                f"no training CronJob for deployment {deployment!r}; this trigger knows "
                f"{sorted(self._cronjobs)}"
            )
        job_name = cronjob_name + TRIGGERED_SUFFIX
        cronjob = self._api.sanitize_for_serialization(
            self._batch.read_namespaced_cron_job(
                cronjob_name, self._namespace, _request_timeout=API_TIMEOUT_S
            )
        )
        skipped = _reason_to_skip(cronjob) or self._unfinished(cronjob)
        if skipped:
            return self._record(Outcome(False, deployment, job_name, skipped), reason)
        body = job_from_cronjob(cronjob, job_name, reason)
        try:
            self._batch.create_namespaced_job(self._namespace, body, _request_timeout=API_TIMEOUT_S)
        except ApiException as error:
            if error.status != 409:
                raise
            detail = (
                f"Job {job_name} still exists: the last triggered run is running or finished "
                "less than the cooldown (its ttlSecondsAfterFinished) ago"
            )
            return self._record(Outcome(False, deployment, job_name, detail), reason)
        detail = f"created Job {job_name} from CronJob {cronjob_name}"
        return self._record(Outcome(True, deployment, job_name, detail), reason)

    def _unfinished(self, cronjob: dict) -> str:
        jobs = self._api.sanitize_for_serialization(
            self._batch.list_namespaced_job(self._namespace, label_selector=run_selector(cronjob))
        )["items"]
        running = unfinished_runs(jobs)
        return f"a run has not finished: {', '.join(running)}" if running else ""

    def _record(self, outcome: Outcome, reason: RetrainReason) -> Outcome:
        """One log line per request: what happened and the alert that asked for it."""
        LOG.info(
            json.dumps(
                {
                    "event": "retrain started" if outcome.started else "retrain skipped",
                    **outcome.as_dict(),
                    "namespace": self._namespace,
                    "alert": reason.alert,
                    "labels": reason.labels,
                    "requested_at": reason.requested_at.isoformat(timespec="seconds"),
                },
                sort_keys=True,
            )
        )
        return outcome


def _reason_to_skip(cronjob: dict) -> str:
    spec, status = cronjob["spec"], cronjob.get("status") or {}
    if spec.get("suspend"):
        return f"CronJob {cronjob['metadata']['name']} is suspended: training is paused"
    active = [ref.get("name", "?") for ref in status.get("active") or []]
    if active:
        return f"a scheduled run is still active: {', '.join(active)}"
    return ""

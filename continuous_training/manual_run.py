"""`make retrain`: start one training run of a deployment now, from its CronJob's template,
unless a run of that CronJob (scheduled, triggered or manual) has not finished yet.

`python -m continuous_training.manual_run --deployment NAME [--namespace seldon] [--context CTX]`
talks to the cluster with the kubeconfig (`KUBECONFIG`, else ~/.kube/config). Exit 0: the Job
was created (its name on stdout); 1: a run is still going, nothing created (its name on
stderr); 2: bad arguments or the CronJob does not exist.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from continuous_training.job_from_cronjob import (
    RetrainReason,
    job_from_cronjob,
    run_selector,
    unfinished_runs,
)

CRONJOB_SUFFIX = "-training"
"""A deployment's CronJob is `<deployment>-training` (`cronjob_name` in infra/training/)."""
MANUAL_ALERT = "make retrain"
"""The `retrain.mlops-platform/alert` annotation of a manual run (no alert asked for it)."""


def start_run(api, namespace: str, deployment: str) -> tuple[bool, str]:
    """(True, created Job name) or (False, why nothing was created)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    batch = client.BatchV1Api(api)
    cronjob_name = deployment + CRONJOB_SUFFIX
    try:
        cronjob = api.sanitize_for_serialization(
            batch.read_namespaced_cron_job(cronjob_name, namespace)
        )
    except ApiException as error:
        if error.status != 404:
            raise
        raise LookupError(
            f"CronJob {namespace}/{cronjob_name} does not exist: is {deployment!r} a deployment "
            f"with `training` in this stack, and {namespace!r} its namespace?"
        ) from None
    jobs = api.sanitize_for_serialization(
        batch.list_namespaced_job(namespace, label_selector=run_selector(cronjob))
    )["items"]
    running = unfinished_runs(jobs)
    if running:
        return False, (
            f"a training run of {deployment} has not finished: {', '.join(running)}; one run at "
            f"a time (the CronJob's concurrencyPolicy Forbid). Wait for it, or delete it with "
            f"`kubectl -n {namespace} delete job {running[0]}`"
        )
    job_name = f"{deployment}-manual-{int(time.time())}"
    reason = RetrainReason(MANUAL_ALERT, {}, datetime.now(UTC))
    batch.create_namespaced_job(namespace, job_from_cronjob(cronjob, job_name, reason))
    return True, job_name


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m continuous_training.manual_run", description=__doc__
    )
    parser.add_argument("--deployment", required=True)
    parser.add_argument("--namespace", default="seldon")
    parser.add_argument("--context", default=None, help="kubeconfig context (default: current)")
    args = parser.parse_args(argv)
    from kubernetes import client, config

    config.load_kube_config(context=args.context)
    try:
        started, detail = start_run(client.ApiClient(), args.namespace, args.deployment)
    except (LookupError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"created Job {detail}" if started else f"not started: {detail}",
          file=sys.stdout if started else sys.stderr)  # fmt: skip
    return 0 if started else 1


if __name__ == "__main__":
    sys.exit(main())

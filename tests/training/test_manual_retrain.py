"""`make retrain DEPLOYMENT=...` (`python -m continuous_training.manual_run`) against the
recording Kubernetes API double: the Job is the CronJob's template as `kubectl create job
--from=cronjob/...` makes it (continuous_training/job_from_cronjob.py), and it is refused while
any run of that CronJob, whoever started it, has not finished: the CronJob's Forbid sees only
the Jobs its own controller started."""

import json
import os
import subprocess
from datetime import datetime

import kubernetes_validate
import pytest

from continuous_training.job_from_cronjob import REASON_PREFIX, RetrainReason, job_from_cronjob
from tests.training.support import KUBERNETES_VERSION, REPO_ROOT, of_kind

FINISHED = {"conditions": [{"type": "Failed", "status": "True"}]}


def make_retrain(*variables: str, kubeconfig=None) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"KUBECONFIG": str(kubeconfig)} if kubeconfig else {})}
    return subprocess.run(
        ["make", "--no-print-directory", "--directory", str(REPO_ROOT), "retrain", *variables],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_make_retrain_needs_a_deployment():
    result = make_retrain()
    assert result.returncode != 0
    assert "usage: make retrain DEPLOYMENT=<name>" in result.stderr


@pytest.fixture
def iris_cronjob(rendered_prod, api_double) -> dict:
    (cronjob,) = [
        c for c in of_kind(rendered_prod, "CronJob") if c["metadata"]["name"] == "iris-training"
    ]
    return api_double.add_cronjob(cronjob)


def test_make_retrain_creates_the_job_kubectl_makes_from_the_cronjob(
    iris_cronjob, api_double, tmp_path
):
    kubeconfig = api_double.kubeconfig(tmp_path, "operator-token")
    result = make_retrain("DEPLOYMENT=iris", "NAMESPACE=seldon", kubeconfig=kubeconfig)
    assert result.returncode == 0, result.stderr
    (job,) = api_double.created_jobs()
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    assert job["metadata"]["name"].startswith("iris-manual-")
    assert f"created Job {job['metadata']['name']}" in result.stdout
    assert job["metadata"]["annotations"][f"{REASON_PREFIX}alert"] == "make retrain"
    ours = job_from_cronjob(iris_cronjob, job["metadata"]["name"], _reason_of(job))
    assert job == ours


def _reason_of(job: dict) -> RetrainReason:
    annotations = job["metadata"]["annotations"]
    return RetrainReason(
        annotations[f"{REASON_PREFIX}alert"],
        json.loads(annotations[f"{REASON_PREFIX}labels"]),
        datetime.fromisoformat(annotations[f"{REASON_PREFIX}requested-at"]),
    )


@pytest.mark.parametrize("running", ["iris-training-retrain", "iris-manual-1", "iris-training-1"])
def test_make_retrain_refuses_while_a_run_has_not_finished(
    iris_cronjob, api_double, tmp_path, running
):
    """Triggered, manual or scheduled: any unfinished Job with the template's labels blocks."""
    labels = iris_cronjob["spec"]["jobTemplate"]["metadata"]["labels"]
    other = {"metadata": {"name": "wine-manual-1", "namespace": "seldon",
                          "labels": {**labels, "mlops-platform/deployment": "wine"}}}  # fmt: skip
    api_double.jobs[("seldon", "wine-manual-1")] = other
    job = {"metadata": {"name": running, "namespace": "seldon", "labels": labels}}
    api_double.jobs[("seldon", running)] = job
    kubeconfig = api_double.kubeconfig(tmp_path, "operator-token")

    refused = make_retrain("DEPLOYMENT=iris", kubeconfig=kubeconfig)
    assert refused.returncode != 0
    assert f"a training run of iris has not finished: {running}" in refused.stderr
    assert api_double.created_jobs() == []

    job["status"] = FINISHED
    started = make_retrain("DEPLOYMENT=iris", kubeconfig=kubeconfig)
    assert started.returncode == 0, started.stderr
    assert [j["metadata"]["name"] for j in api_double.created_jobs()] == [
        started.stdout.split()[-1]
    ]


def test_make_retrain_names_a_missing_cronjob(api_double, tmp_path):
    kubeconfig = api_double.kubeconfig(tmp_path, "operator-token")
    result = make_retrain("DEPLOYMENT=nosuch", kubeconfig=kubeconfig)
    assert result.returncode != 0
    assert "CronJob seldon/nosuch-training does not exist" in result.stderr

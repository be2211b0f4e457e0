"""`make retrain DEPLOYMENT=...` runs the real kubectl (`kubectl create job --from=cronjob/...`)
against the recording Kubernetes API double, with `--dry-run=client` (kubectl sends built-in
kinds as protobuf, which the double does not decode; it prints the Job instead). The Job kubectl
makes is the one the trigger builds for an alert, apart from its name and the trigger's reason
annotations."""

import json
import shutil
import subprocess
from datetime import UTC, datetime

import kubernetes_validate
import pytest
from conftest import KUBERNETES_VERSION, REPO_ROOT, of_kind

from continuous_training.job_from_cronjob import REASON_PREFIX, RetrainReason, job_from_cronjob


def make_retrain(*variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "--directory", str(REPO_ROOT), "retrain", *variables],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_retrain_needs_a_deployment():
    result = make_retrain()
    assert result.returncode != 0
    assert "usage: make retrain DEPLOYMENT=<name>" in result.stderr


def test_make_retrain_creates_the_job_kubectl_makes_from_the_cronjob(
    rendered_prod, api_double, tmp_path
):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl not found on PATH: `make retrain` needs it")
    (cronjob,) = [
        c for c in of_kind(rendered_prod, "CronJob") if c["metadata"]["name"] == "iris-training"
    ]
    served = api_double.add_cronjob(cronjob)
    kubeconfig = api_double.kubeconfig(tmp_path, "operator-token")
    result = make_retrain(
        "DEPLOYMENT=iris",
        "NAMESPACE=seldon",
        f"KUBECTL={kubectl} --kubeconfig={kubeconfig} --dry-run=client --output=json",
    )
    assert result.returncode == 0, result.stderr
    cronjob_reads = [r.path for r in api_double.api_requests() if "/cronjobs/" in r.path]
    assert cronjob_reads == ["/apis/batch/v1/namespaces/seldon/cronjobs/iris-training"]
    assert api_double.created_jobs() == []
    job = json.loads(result.stdout[result.stdout.index("{") :])
    # Go's zero values in kubectl's printout, which the API server would fill in.
    job.pop("status", None)
    for metadata in (job["metadata"], job["spec"]["template"]["metadata"]):
        assert metadata.pop("creationTimestamp", None) is None
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    assert job["metadata"]["name"].startswith("iris-manual-")
    reason = RetrainReason("ModelFeatureDrift", {}, datetime.now(UTC))
    ours = job_from_cronjob(served, job["metadata"]["name"], reason)
    ours["metadata"]["annotations"] = {
        k: v for k, v in ours["metadata"]["annotations"].items() if not k.startswith(REASON_PREFIX)
    }
    assert job == ours

"""The real retrain trigger (`python -m continuous_training serve`, configured as the prod render
declares it) in front of a recording stand-in for the Kubernetes API (no cluster here: see
localrun/kubernetes_api_double.py). The official client's Job body must validate against the
Kubernetes OpenAPI and be the CronJob's template as `kubectl create job --from=cronjob/...`
makes it."""

import json

import kubernetes_validate
import pytest

from tests.training.support import (
    FINISHED,
    KUBERNETES_VERSION,
    RETRAIN_IRIS,
    TOKEN,
    drift_webhook,
    of_kind,
)


@pytest.fixture
def trigger(trigger_for, rendered_prod):
    return trigger_for(rendered_prod, TOKEN)


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_webhook_without_the_right_bearer_token_is_401_and_creates_nothing(
    trigger, api_double, token
):
    answer = trigger.post(RETRAIN_IRIS, drift_webhook(), token)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert api_double.requests == []
    assert trigger.post(RETRAIN_IRIS, drift_webhook(), TOKEN).status_code == 202


def test_drift_alert_creates_one_job_from_the_cronjob_template(trigger, api_double, rendered_prod):
    answer = trigger.post(RETRAIN_IRIS, drift_webhook(), TOKEN)
    assert answer.status_code == 202, answer.text
    assert answer.json()["started"] is True
    (cronjob,) = [
        c for c in of_kind(rendered_prod, "CronJob") if c["metadata"]["name"] == "iris-training"
    ]
    served = api_double.cronjobs[("seldon", "iris-training")]
    (job,) = api_double.created_jobs()
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    template = cronjob["spec"]["jobTemplate"]
    assert job["spec"] == template["spec"]
    assert job["metadata"]["labels"] == template["metadata"]["labels"]
    assert job["metadata"]["namespace"] == "seldon"
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": "iris-training",
            "uid": served["metadata"]["uid"],
            "controller": True,
        }
    ]
    annotations = job["metadata"]["annotations"]
    assert annotations["cronjob.kubernetes.io/instantiate"] == "manual"
    assert annotations["retrain.mlops-platform/alert"] == "ModelFeatureDrift"
    assert json.loads(annotations["retrain.mlops-platform/labels"])["feature"] == "petal_length"
    assert annotations["retrain.mlops-platform/requested-at"].endswith("+00:00")
    # The trigger authenticates to the API with its own (service-account) token.
    assert {r.authorization for r in api_double.requests} == {"Bearer service-account-token"}
    assert '"event": "retrain started"' in trigger.log.read_text()


def test_a_second_alert_while_the_run_exists_is_debounced(trigger, api_double):
    assert trigger.post(RETRAIN_IRIS, drift_webhook(), TOKEN).status_code == 202
    again = trigger.post(RETRAIN_IRIS, drift_webhook(), TOKEN)
    assert again.status_code == 200
    assert again.json()["started"] is False
    assert "a run has not finished: iris-training-retrain" in again.json()["detail"]
    api_double.jobs[("seldon", "iris-training-retrain")]["status"] = FINISHED
    cooling = trigger.post(RETRAIN_IRIS, drift_webhook(), TOKEN)
    assert (cooling.status_code, cooling.json()["started"]) == (200, False)
    assert "still exists" in cooling.json()["detail"]
    assert len(api_double.jobs) == 1
    assert '"event": "retrain skipped"' in trigger.log.read_text()


def test_no_run_while_a_manual_run_has_not_finished(trigger, api_double):
    """A Job from `make retrain` is not in the CronJob's status.active; its labels show it."""
    cronjob = api_double.cronjobs[("seldon", "iris-training")]
    labels = cronjob["spec"]["jobTemplate"]["metadata"]["labels"]
    manual = {"metadata": {"name": "iris-manual-1", "namespace": "seldon", "labels": labels}}
    api_double.jobs[("seldon", "iris-manual-1")] = manual
    answer = trigger.post(RETRAIN_IRIS, drift_webhook(), TOKEN)
    assert (answer.status_code, answer.json()["started"]) == (200, False)
    assert "iris-manual-1" in answer.json()["detail"]
    manual["status"] = FINISHED
    assert trigger.post(RETRAIN_IRIS, drift_webhook(), TOKEN).status_code == 202


def test_no_run_while_a_scheduled_run_is_active_or_the_cronjob_is_suspended(trigger, api_double):
    cronjob = api_double.cronjobs[("seldon", "iris-training")]
    cronjob["status"] = {"active": [{"kind": "Job", "name": "iris-training-29380000"}]}
    answer = trigger.post(RETRAIN_IRIS, drift_webhook(), TOKEN)
    assert (answer.status_code, answer.json()["started"]) == (200, False)
    assert "iris-training-29380000" in answer.json()["detail"]
    cronjob["status"] = {}
    cronjob["spec"]["suspend"] = True
    answer = trigger.post(RETRAIN_IRIS, drift_webhook(), TOKEN)
    assert (answer.status_code, answer.json()["started"]) == (200, False)
    assert "suspended" in answer.json()["detail"]
    assert api_double.created_jobs() == []


def test_resolved_notifications_start_nothing(trigger, api_double):
    answer = trigger.post(RETRAIN_IRIS, drift_webhook(status="resolved"), TOKEN)
    assert (answer.status_code, answer.json()["started"]) == (200, False)
    assert api_double.requests == []


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (RETRAIN_IRIS, {"alerts": "nope"}, 400, "'alerts' list"),
        (RETRAIN_IRIS, drift_webhook(deployment="wine"), 400, "about deployment_name 'wine'"),
        ("/v1/retrain/unknown", drift_webhook(deployment="unknown"), 404, "knows ['iris', 'wine']"),
        ("/v1/other", drift_webhook(), 404, "/v1/retrain/<deployment>"),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_problem_and_the_server_keeps_serving(
    trigger, api_double, path, body, status, message
):
    answer = trigger.post(path, body, TOKEN)
    assert answer.status_code == status
    assert message in answer.json()["error"]
    assert api_double.created_jobs() == []
    assert trigger.post(RETRAIN_IRIS, drift_webhook(), TOKEN).status_code == 202

"""The admission policy that limits the retrain trigger to its CronJobs' Jobs, and the
NetworkPolicies that let only Alertmanager reach it, as the prod render declares them.

The policy's CEL is evaluated with cel-python (a CEL implementation; no API server runs here)
against the rendered CronJobs as params and the Job the trigger really builds
(`job_from_cronjob`), then against Jobs a compromised trigger would create instead. The API
server evaluates each param in turn and ANDs the results (kubernetes v1.36
`staging/src/k8s.io/api/admissionregistration/v1/types.go`, `ParamRef.selector`): so does
`_admitted`."""

import copy
from datetime import UTC, datetime

import celpy
import kubernetes_validate
import pytest
from conftest import KUBERNETES_VERSION, of_kind

from continuous_training.job_from_cronjob import RetrainReason, job_from_cronjob
from infra.training.admission import POLICY_NAME

REASON = RetrainReason("ModelFeatureDrift", {"deployment_name": "iris"}, datetime.now(UTC))
TRIGGER_USER = "system:serviceaccount:seldon:retrain-trigger"


def _policy(objects: dict[str, dict]) -> tuple[dict, dict]:
    """The trigger's policy and binding (the executor's hardening policies live beside them)."""
    (policy,) = [
        p for p in of_kind(objects, "ValidatingAdmissionPolicy")
        if p["metadata"]["name"] == POLICY_NAME
    ]
    (binding,) = [
        b for b in of_kind(objects, "ValidatingAdmissionPolicyBinding")
        if b["spec"]["policyName"] == POLICY_NAME
    ]
    return policy, binding


def _evaluate(expression: str, **variables) -> bool:
    env = celpy.Environment()
    program = env.program(env.compile(expression))
    return bool(program.evaluate({k: celpy.json_to_cel(v) for k, v in variables.items()}))


def _params(objects: dict[str, dict], namespace: str, binding: dict) -> list[dict]:
    selector = binding["spec"]["paramRef"]["selector"]["matchLabels"]
    return [
        c
        for c in of_kind(objects, "CronJob")
        if c["metadata"]["namespace"] == namespace
        and selector.items() <= c["metadata"]["labels"].items()
    ]


def _served(cronjob: dict) -> dict:
    """The CronJob as the API server holds it: with a uid."""
    served = copy.deepcopy(cronjob)
    served["metadata"]["uid"] = f"uid-of-{cronjob['metadata']['name']}"
    return served


def _refusals(objects: dict[str, dict], job: dict) -> list[str]:
    """The messages of the validations that refuse `job` (created by the trigger)."""
    policy, binding = _policy(objects)
    params = [_served(c) for c in _params(objects, job["metadata"]["namespace"], binding)]
    assert params, "no CronJob param: the binding would deny every Job"
    return sorted(
        {
            validation["message"]
            for param in params
            for validation in policy["spec"]["validations"]
            if not _evaluate(validation["expression"], object=job, params=param)
        }
    )


def _iris_job(objects: dict[str, dict]) -> dict:
    (cronjob,) = [
        c for c in of_kind(objects, "CronJob") if c["metadata"]["name"] == "iris-training"
    ]
    return job_from_cronjob(_served(cronjob), "iris-training-retrain", REASON)


def test_policy_and_binding_are_valid_and_bind_the_trigger_namespaces(rendered_prod):
    policy, binding = _policy(rendered_prod)
    for manifest in (policy, binding):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    assert binding["spec"]["policyName"] == policy["metadata"]["name"] == POLICY_NAME
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert binding["spec"]["paramRef"]["parameterNotFoundAction"] == "Deny"
    assert policy["spec"]["failurePolicy"] == "Fail"
    (expression,) = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    triggers = {d["metadata"]["namespace"] for d in of_kind(rendered_prod, "Deployment")
                if d["metadata"]["name"] == "retrain-trigger"}  # fmt: skip
    assert set(expression["values"]) == triggers
    (condition,) = policy["spec"]["matchConditions"]
    request = {"namespace": "seldon", "userInfo": {"username": TRIGGER_USER}}
    assert _evaluate(condition["expression"], request=request)
    for other in ("system:serviceaccount:seldon:default", "system:serviceaccount:x:retrain-trigger",
                  "alice"):  # fmt: skip
        request["userInfo"]["username"] = other
        assert not _evaluate(condition["expression"], request=request)


def test_the_job_the_trigger_builds_is_admitted(rendered_prod):
    assert _refusals(rendered_prod, _iris_job(rendered_prod)) == []


def _extra_container(job: dict) -> None:
    pod = job["spec"]["template"]["spec"]
    pod["containers"].append({**pod["containers"][0], "name": "x", "command": ["sh", "-c", "env"]})


def _mount_a_secret(job: dict) -> None:
    pod = job["spec"]["template"]["spec"]
    pod["volumes"].append({"name": "loot", "secret": {"secretName": "seldon-mlflow-pipeline"}})


def _other_owner_name(job: dict) -> None:
    job["metadata"]["ownerReferences"][0]["name"] = "wine-training"
    job["metadata"]["name"] = "wine-training-retrain"


ATTACKS = {
    "no-owner": (lambda job: job["metadata"].pop("ownerReferences"), "exactly one owner"),
    "not-controller": (
        lambda job: job["metadata"]["ownerReferences"][0].pop("controller"),
        "exactly one owner",
    ),
    "owner-a-deployment": (
        lambda job: job["metadata"]["ownerReferences"][0].update(kind="Deployment"),
        "exactly one owner",
    ),
    "another-name": (lambda job: job["metadata"].update(name="anything"), "'<cronjob>-retrain'"),
    "another-uid": (
        lambda job: job["metadata"]["ownerReferences"][0].update(uid="forged"),
        "pod template unchanged",
    ),
    "another-image": (
        lambda job: job["spec"]["template"]["spec"]["containers"][0].update(image="evil:1"),
        "training image's command",
    ),
    "another-command": (
        lambda job: job["spec"]["template"]["spec"]["containers"][0].update(command=["sh"]),
        "training image's command",
    ),
    "other-args": (
        lambda job: job["spec"]["template"]["spec"]["containers"][0].update(args=["--x"]),
        "pod template unchanged",
    ),
    "extra-container": (_extra_container, "training image's command"),
    "mounts-a-secret": (_mount_a_secret, "pod template unchanged"),
    "service-account-token": (
        lambda job: job["spec"]["template"]["spec"].update(automountServiceAccountToken=True),
        "pod template unchanged",
    ),
    "iris-template-as-wine": (_other_owner_name, "pod template unchanged"),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_job_other_than_the_cronjobs_own_is_refused(rendered_prod, attack):
    mutate, message = ATTACKS[attack]
    job = _iris_job(rendered_prod)
    mutate(job)
    refusals = _refusals(rendered_prod, job)
    assert any(message in refusal for refusal in refusals), refusals


def _selects(selector: dict, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector's verdict on `labels`."""
    tests = {
        "In": lambda key, values: labels.get(key) in values,
        "NotIn": lambda key, values: labels.get(key) not in values,
        "Exists": lambda key, values: key in labels,
        "DoesNotExist": lambda key, values: key not in labels,
    }
    return selector.get("matchLabels", {}).items() <= labels.items() and all(
        tests[e["operator"]](e["key"], e.get("values", []))
        for e in selector.get("matchExpressions", [])
    )


def test_only_alertmanager_pods_reach_the_trigger(rendered_prod):
    """Every NetworkPolicy selecting the trigger admits only the operator's Alertmanager pods
    of `monitoring` (prometheus-operator v0.85.0 `pkg/alertmanager/operator.go`,
    `makeSelectorLabels`; kube-prometheus-stack 77.10.0 names the CR
    `kube-prometheus-stack-alertmanager`)."""
    (trigger,) = [d for d in of_kind(rendered_prod, "Deployment")
                  if d["metadata"]["name"] == "retrain-trigger"]  # fmt: skip
    pod_labels = trigger["spec"]["template"]["metadata"]["labels"]
    selecting = [
        p
        for p in of_kind(rendered_prod, "NetworkPolicy")
        if p["metadata"]["namespace"] == trigger["metadata"]["namespace"]
        and "Ingress" in p["spec"].get("policyTypes", [])
        and _selects(p["spec"]["podSelector"], pod_labels)
    ]
    port = trigger["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    peers = [
        peer
        for p in selecting
        for rule in p["spec"].get("ingress", [])
        if not rule.get("ports")
        or any(r["port"] in (port["containerPort"], port["name"]) for r in rule["ports"])
        for peer in rule.get("from", [{"anyone": True}])
    ]
    assert peers == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {
                "matchLabels": {
                    "alertmanager": "kube-prometheus-stack-alertmanager",
                    "app.kubernetes.io/managed-by": "prometheus-operator",
                }
            },
        }
    ]

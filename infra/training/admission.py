"""What RBAC cannot say about the retrain trigger: that the Jobs it creates are its CronJobs'.

RBAC grants `create` on `jobs` for any Job body, so a compromised trigger could run any pod in
its namespace, one mounting the pipeline's MLflow credentials for instance. A
ValidatingAdmissionPolicy on the Jobs the trigger's ServiceAccount creates closes that: the Job
must be owned (controller) by one training CronJob of its namespace, be named
`<cronjob>-retrain` (continuous_training/retrainer.py), and carry exactly that CronJob's pod
template.

The training CronJobs are the policy's params (`paramKind` CronJob, selected by label, in the
Job's own namespace). With a selector, the policy is evaluated once per matching CronJob and the
results are ANDed; with none, `parameterNotFoundAction: Deny` refuses (kubernetes v1.36
`staging/src/k8s.io/api/admissionregistration/v1/types.go`, `ParamRef`). So each expression
holds for every CronJob: the owner's own must match in full, and every one must agree on the
containers' image and command (all training CronJobs of a namespace run the same image and
`python -m model train`). Admission sees both objects after defaulting, so comparing the Job's
pod template with the CronJob's compares like with like.
"""

TRAINING_CRONJOB_LABELS = {
    "app.kubernetes.io/name": "model-training",
    "app.kubernetes.io/part-of": "mlops-platform",
}
"""Labels of every training CronJob (and its Jobs and pods): the policy's param selector."""
POLICY_NAME = "retrain-trigger-jobs"
METADATA = {"name": POLICY_NAME, "labels": {"app.kubernetes.io/part-of": "mlops-platform"}}
RETRAIN_TRIGGER = "retrain-trigger"
"""The app (`app.kubernetes.io/name`) of the retrain trigger, which creates Jobs: the
same-namespace allow leaves it out, so only the peers its own policy names (Alertmanager) reach
it, not the model pods beside it."""
TRIGGER_ACCOUNT = RETRAIN_TRIGGER

_OWNER = "object.metadata.ownerReferences[0]"
_HAS_ONE_OWNER = (
    "has(object.metadata.ownerReferences) && size(object.metadata.ownerReferences) == 1"
)
_POD = "object.spec.template.spec"
_PARAM_POD = "params.spec.jobTemplate.spec.template.spec"

VALIDATIONS = (
    {
        "expression": f"{_HAS_ONE_OWNER} && {_OWNER}.apiVersion == 'batch/v1' && "
        f"{_OWNER}.kind == 'CronJob' && has({_OWNER}.controller) && {_OWNER}.controller",
        "message": "a Job of the retrain trigger must have exactly one owner reference, to its "
        "training CronJob, as controller",
    },
    {
        "expression": f"!({_HAS_ONE_OWNER}) || object.metadata.name == {_OWNER}.name + '-retrain'",
        "message": "a Job of the retrain trigger must be named '<cronjob>-retrain'",
    },
    {
        "expression": f"!({_HAS_ONE_OWNER}) || {_OWNER}.name != params.metadata.name || "
        f"({_OWNER}.uid == params.metadata.uid && {_POD} == {_PARAM_POD})",
        "message": "a Job of the retrain trigger must carry its CronJob's pod template unchanged "
        "and reference that CronJob's uid",
    },
    {
        "expression": f"{_POD}.containers.all(c, has(c.command)) && "
        f"{_POD}.containers.map(c, [c.image, c.command]) == "
        f"{_PARAM_POD}.containers.map(c, [c.image, c.command])",
        "message": "a Job of the retrain trigger must run the training image's command, as "
        "every training CronJob of its namespace does",
    },
)


def retrain_job_policy() -> dict:
    """The cluster-wide ValidatingAdmissionPolicy; it applies only to Jobs created by a
    ServiceAccount named `retrain-trigger` in the Job's own namespace."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": dict(METADATA),
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "batch/v1", "kind": "CronJob"},
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["batch"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["jobs"],
                    }
                ]
            },
            "matchConditions": [
                {
                    "name": "created-by-the-retrain-trigger",
                    "expression": "request.userInfo.username == 'system:serviceaccount:' + "
                    f"request.namespace + ':{TRIGGER_ACCOUNT}'",
                }
            ],
            "validations": [dict(validation) for validation in VALIDATIONS],
        },
    }


def retrain_job_policy_binding(namespaces: list[str]) -> dict:
    """Binds the policy in the namespaces that have a trigger, with their training CronJobs as
    params; no CronJob found means the Job is refused."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": dict(METADATA),
        "spec": {
            "policyName": POLICY_NAME,
            "validationActions": ["Deny"],
            "paramRef": {
                "selector": {"matchLabels": dict(TRAINING_CRONJOB_LABELS)},
                "parameterNotFoundAction": "Deny",
            },
            "matchResources": {
                "namespaceSelector": {
                    "matchExpressions": [
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "In",
                            "values": sorted(namespaces),
                        }
                    ]
                }
            },
        },
    }

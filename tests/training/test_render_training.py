"""What the prod render declares for continuous training: a CronJob per deployment on the stack's
own training image, a trigger whose Role may create Jobs and get the CronJobs and nothing more,
and an AlertmanagerConfig that kube-prometheus-stack's Alertmanager selects."""

import json

import jsonschema
import kubernetes_validate
import yaml

from tests.training.support import KUBERNETES_VERSION, REPO_ROOT, of_kind

SCHEMA = REPO_ROOT / "tests/schemas/monitoring.coreos.com/alertmanagerconfig_v1alpha1.json"
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def _prod_training() -> dict[str, dict]:
    """Deployment name -> its `training` key, from Pulumi.prod.yaml."""
    deployments = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"][
        "mlops-platform:deployments"
    ]
    return {d["name"]: d["training"] for d in deployments if "training" in d}


def _models() -> dict[str, str]:
    deployments = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"][
        "mlops-platform:deployments"
    ]
    return {d["name"]: d["predictors"][0]["model"].split("@")[0] for d in deployments}


def _trigger(objects: dict[str, dict]) -> dict:
    (trigger,) = [
        d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] == "retrain-trigger"
    ]
    return trigger


def _pod_specs(cronjob: dict) -> dict:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_a_training_cronjob_per_deployment_on_the_stacks_training_image(rendered_prod):
    training = _prod_training()
    deployments = {d["metadata"]["name"] for d in of_kind(rendered_prod, "SeldonDeployment")}
    cronjobs = {
        c["metadata"]["labels"]["mlops-platform/deployment"]: c
        for c in of_kind(rendered_prod, "CronJob")
    }
    assert set(cronjobs) == deployments == set(training)
    for deployment, cronjob in cronjobs.items():
        kubernetes_validate.validate(cronjob, KUBERNETES_VERSION, strict=True)
        spec = cronjob["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["schedule"] == training[deployment]["schedule"]
        assert spec["suspend"] == training[deployment]["suspend"]
        pod = _pod_specs(cronjob)
        (train,) = pod["containers"]
        assert train["command"] == ["python", "-m", "model", "train"]
        data = training[deployment]["data"]
        assert train["args"][train["args"].index("--data-repo") + 1] == data["repo"]
        assert train["args"][train["args"].index("--data-rev") + 1] == data["rev"]
        assert "--skip-unchanged" in train["args"]
        env = {e["name"]: e.get("value") for e in train["env"]}
        assert env["MODEL_DVC_REMOTE_URL"] == (
            f"{env['MLFLOW_TRACKING_URI']}/api/2.0/mlflow-artifacts/artifacts/0/dvc"
        )
        assert train["args"][train["args"].index("--model-name") + 1] == _models()[deployment]


def test_training_image_is_the_one_the_stack_builds(rendered_prod, prod_render):
    images = {
        c["image"]
        for cronjob in of_kind(rendered_prod, "CronJob")
        for c in _pod_specs(cronjob)["containers"]
    }
    images |= {
        c["image"] for c in _trigger(rendered_prod)["spec"]["template"]["spec"]["containers"]
    }
    (image,) = images
    stack = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"]
    repository = (
        f"{stack['mlops-platform:imageRegistry']}/{stack['mlops-platform:trainingImageRepository']}"
    )
    assert image.startswith(f"{repository}@sha256:")
    serving = {
        c["image"]
        for d in of_kind(rendered_prod, "SeldonDeployment")
        for p in d["spec"]["predictors"]
        for c in p["componentSpecs"][0]["spec"]["containers"]
    }
    assert image not in serving
    outputs = yaml.safe_load((prod_render / "pulumi" / "stack-outputs.yaml").read_text())
    assert outputs["trainingImage"] == image
    build = yaml.safe_load((prod_render / "pulumi" / "image-training-image.yaml").read_text())
    assert build["inputs"]["build"]["dockerfile"] == "model/Dockerfile"
    assert build["inputs"]["imageName"].startswith(f"{repository}:")


def test_training_and_trigger_pods_are_restricted_and_bounded(rendered_prod):
    cronjobs = of_kind(rendered_prod, "CronJob")
    trigger_pod = _trigger(rendered_prod)["spec"]["template"]["spec"]
    assert trigger_pod["automountServiceAccountToken"] is True  # it calls the API
    assert trigger_pod["serviceAccountName"] == "retrain-trigger"
    for pod in [*map(_pod_specs, cronjobs), trigger_pod]:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            assert container["securityContext"] == RESTRICTED_CONTAINER
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    for cronjob in cronjobs:
        assert _pod_specs(cronjob)["automountServiceAccountToken"] is False
        job = cronjob["spec"]["jobTemplate"]["spec"]
        assert job["activeDeadlineSeconds"] > 0 and job["backoffLimit"] <= 1
    env = {e["name"]: e for e in trigger_pod["containers"][0]["env"]}
    assert json.loads(env["RETRAIN_CRONJOBS"]["value"]) == {
        c["metadata"]["labels"]["mlops-platform/deployment"]: c["metadata"]["name"]
        for c in cronjobs
    }


def test_trigger_role_may_create_and_list_jobs_and_get_its_cronjobs_only(rendered_prod):
    assert of_kind(rendered_prod, "ClusterRole") == []
    (role,) = [
        r for r in of_kind(rendered_prod, "Role") if r["metadata"]["name"] == "retrain-trigger"
    ]
    kubernetes_validate.validate(role, KUBERNETES_VERSION, strict=True)
    # Only the training CronJobs: the batch-scoring ones are not the trigger's to start.
    cronjobs = sorted(
        c["metadata"]["name"]
        for c in of_kind(rendered_prod, "CronJob")
        if c["metadata"]["name"].endswith("-training")
    )
    assert role["rules"] == [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "list"]},
        {
            "apiGroups": ["batch"],
            "resources": ["cronjobs"],
            "verbs": ["get"],
            "resourceNames": cronjobs,
        },
    ]
    (binding,) = [
        b
        for b in of_kind(rendered_prod, "RoleBinding")
        if b["metadata"]["name"] == "retrain-trigger"
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "retrain-trigger",
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "retrain-trigger",
            "namespace": role["metadata"]["namespace"],
        }
    ]


def test_alertmanager_configs_are_valid_and_send_each_deployment_to_the_trigger(rendered_prod):
    configs = of_kind(rendered_prod, "AlertmanagerConfig")
    assert {c["spec"]["route"]["matchers"][1]["value"] for c in configs} == set(_prod_training())
    schema = json.loads(SCHEMA.read_text())
    (service,) = [
        s for s in of_kind(rendered_prod, "Service") if s["metadata"]["name"] == "retrain-trigger"
    ]
    port = service["spec"]["ports"][0]["port"]
    for config in configs:
        jsonschema.validators.validator_for(schema)(schema).validate(config)
        namespace = config["metadata"]["namespace"]
        assert service["metadata"]["namespace"] == namespace
        matchers = {m["name"]: m for m in config["spec"]["route"]["matchers"]}
        deployment = matchers["deployment_name"]["value"]
        assert "ModelFeatureDrift" in matchers["alertname"]["value"].split("|")
        group_wait = _prod_training()[deployment].get("retrainGroupWait", "30s")
        assert config["spec"]["route"]["groupWait"] == group_wait
        (webhook,) = config["spec"]["receivers"][0]["webhookConfigs"]
        assert webhook["url"] == (
            f"https://retrain-trigger.{namespace}.svc:{port}/v1/retrain/{deployment}"
        )
        credentials = webhook["httpConfig"]["authorization"]["credentials"]
        (secret,) = [
            s
            for s in of_kind(rendered_prod, "Secret")
            if s["metadata"]["name"] == credentials["name"]
        ]
        assert secret["metadata"]["namespace"] == namespace
        assert credentials["key"] in secret["stringData"]
        # The trigger serves only TLS; Alertmanager verifies it with the namespace's platform CA.
        ca = webhook["httpConfig"]["tlsConfig"]["ca"]["secret"]
        assert ca["key"] == "ca.crt"
        assert [c["metadata"]["namespace"] for c in of_kind(rendered_prod, "Certificate")
                if c["spec"]["secretName"] == ca["name"]] == [namespace]  # fmt: skip


def test_kube_prometheus_stack_selects_the_platforms_alertmanager_configs(
    rendered_prod, prod_render
):
    release = yaml.safe_load(
        (prod_render / "helm-releases" / "kube-prometheus-stack.yaml").read_text()
    )
    spec = release["values"]["alertmanager"]["alertmanagerSpec"]
    for config in of_kind(rendered_prod, "AlertmanagerConfig"):
        labels = config["metadata"]["labels"]
        assert spec["alertmanagerConfigSelector"]["matchLabels"].items() <= labels.items()
    assert spec["alertmanagerConfigNamespaceSelector"] == {}
    assert spec["alertmanagerConfigMatcherStrategy"] == {"type": "OnNamespace"}

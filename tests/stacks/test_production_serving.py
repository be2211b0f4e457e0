"""Issue 28 in the rendered stacks: predictors' autoscalers and disruption budgets as the Seldon
v1.17.1 operator reads them, the replicated platform workloads' budgets, the production replica
floor of the champion, and the executor logger pointing at a sink the stack declares."""

import json

import pytest

from infra.batch_scoring.builders import model_arguments
from infra.deployments.versions import DeclaredVersion
from infra.stack_config import load_stack_file
from stacks.render import documents
from tests.support.stacks import STACKS, stack_file


def _by_kind(files: dict[str, dict], kind: str) -> list[dict]:
    return [doc for doc in files.values() if doc.get("kind") == kind]


def _release(files: dict[str, dict], chart: str) -> dict:
    return next(doc for doc in files.values() if doc.get("chart") == chart)


@pytest.mark.parametrize("stack", STACKS)
def test_predictor_scaling_and_budgets_follow_the_stack_file(declared: dict, stack: str) -> None:
    config = load_stack_file(stack_file(stack))
    rendered = {
        (doc["metadata"]["namespace"], doc["metadata"]["name"]): doc
        for doc in _by_kind(documents(declared[stack]), "SeldonDeployment")
    }
    for deployment in config.deployments:
        predictors = {
            p["name"]: p
            for p in rendered[(deployment.namespace, deployment.name)]["spec"]["predictors"]
        }
        for predictor in deployment.predictors:
            spec = predictors[predictor.name]
            component = spec["componentSpecs"][0]
            if predictor.autoscaling:
                # The operator then leaves the Deployment's replicas to the HPA.
                assert "replicas" not in spec
                assert component["hpaSpec"]["minReplicas"] == predictor.autoscaling.min_replicas
                assert component["hpaSpec"]["maxReplicas"] == predictor.autoscaling.max_replicas
                (metric,) = component["hpaSpec"]["metricsv2"]
                assert metric["resource"]["target"] == {
                    "type": "Utilization",
                    "averageUtilization": predictor.autoscaling.target_cpu_utilization,
                }
            else:
                assert spec["replicas"] == predictor.replicas
                assert "hpaSpec" not in component
            if predictor.max_replicas > 1:
                assert component["pdbSpec"] == {"maxUnavailable": 1}
            else:
                assert "pdbSpec" not in component


def test_prod_runs_two_or_more_of_every_champion_with_a_budget(declared: dict) -> None:
    files = documents(declared["prod"])
    champions = [
        p
        for doc in _by_kind(files, "SeldonDeployment")
        for p in doc["spec"]["predictors"]
        if p["name"] == "champion"
    ]
    assert len(champions) == 2
    for predictor in champions:
        component = predictor["componentSpecs"][0]
        floor = (
            component["hpaSpec"]["minReplicas"] if "hpaSpec" in component else predictor["replicas"]
        )
        assert floor >= 2
        assert component["pdbSpec"] == {"maxUnavailable": 1}


def test_prod_replicated_platform_workloads_have_budgets(declared: dict) -> None:
    files = documents(declared["prod"])
    mlflow = next(d for d in _by_kind(files, "Deployment") if d["metadata"]["name"] == "mlflow")
    assert mlflow["spec"]["replicas"] == 2
    (budget,) = [
        b for b in _by_kind(files, "PodDisruptionBudget") if b["metadata"]["name"] == "mlflow"
    ]
    assert budget["spec"]["selector"]["matchLabels"] == mlflow["spec"]["selector"]["matchLabels"]
    assert budget["spec"]["maxUnavailable"] == 1
    gateway = _release(files, "gateway")["values"]
    assert gateway["autoscaling"]["minReplicas"] >= 2
    assert gateway["podDisruptionBudget"] == {"maxUnavailable": 1}
    # istiod's chart renders its own budget while autoscaleMin > 1 and the global switch is on
    # (istio 1.30.3 istio-discovery/templates/poddisruptionbudget.yaml).
    istiod = _release(files, "istiod")["values"]
    assert istiod["autoscaleEnabled"] and istiod["autoscaleMin"] >= 2
    switch = istiod.get("global", {}).get("defaultPodDisruptionBudget", {}).get("enabled", True)
    assert switch is True


@pytest.mark.parametrize("stack", ["local", "dev"])
def test_single_pod_workloads_get_no_budget_that_would_block_a_drain(
    declared: dict, stack: str
) -> None:
    files = documents(declared[stack])
    assert not _by_kind(files, "PodDisruptionBudget")
    assert "podDisruptionBudget" not in _release(files, "gateway")["values"]


@pytest.mark.parametrize("stack", STACKS)
def test_logged_deployments_log_to_the_sink_of_their_namespace(declared: dict, stack: str) -> None:
    config = load_stack_file(stack_file(stack))
    files = documents(declared[stack])
    services = {
        (s["metadata"]["namespace"], s["metadata"]["name"]): s for s in _by_kind(files, "Service")
    }
    sinks = {
        d["metadata"]["namespace"]: d
        for d in _by_kind(files, "Deployment")
        if d["metadata"]["name"] == "request-log"
    }
    logged_namespaces = {d.namespace for d in config.deployments if d.request_logging}
    assert set(sinks) == logged_namespaces
    for doc in _by_kind(files, "SeldonDeployment"):
        namespace, name = doc["metadata"]["namespace"], doc["metadata"]["name"]
        entry = next(d for d in config.deployments if (d.namespace, d.name) == (namespace, name))
        for predictor in doc["spec"]["predictors"]:
            logger = predictor["graph"].get("logger")
            if entry.request_logging is None or predictor.get("shadow"):
                assert logger is None
                continue
            port = services[(namespace, "request-log")]["spec"]["ports"][0]["port"]
            assert logger == {
                "url": f"http://request-log.{namespace}.svc.cluster.local:{port}/",
                "mode": "all",
            }
    for sink in sinks.values():
        container = sink["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["python", "-m", "request_log"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["REQUEST_LOG_DESTINATION"].startswith("mlflow-artifacts:/")
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert sink["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_request_log_sinks_log_in_as_the_request_log_user_never_the_pipeline(
    declared: dict, stack: str
) -> None:
    """The sink's Secret holds the request-log login, which the MLflow server's auth app confines
    to the request logs (`MLFLOW_PLATFORM_REQUEST_LOG_USERS`)."""
    config = load_stack_file(stack_file(stack)).mlflow
    d = declared[stack]
    logins = {
        (s.inputs["metadata"]["namespace"], s.inputs["metadata"]["name"]): s.inputs["stringData"]
        for s in d.of_type("kubernetes:core/v1:Secret")
    }
    files = documents(d)
    sinks = [x for x in _by_kind(files, "Deployment") if x["metadata"]["name"] == "request-log"]
    for sink in sinks:
        (container,) = sink["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        refs = {
            env[name]["valueFrom"]["secretKeyRef"]["name"]
            for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
        }
        (secret,) = refs
        login = logins[(sink["metadata"]["namespace"], secret)]["value"]
        assert login["username"] == config.mlflow_request_log_user == "request-log"
        assert login["username"] != config.mlflow_pipeline_user
    (server,) = [x for x in _by_kind(files, "Deployment") if x["metadata"]["name"] == "mlflow"]
    env = {
        e["name"]: e.get("value")
        for e in server["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["MLFLOW_PLATFORM_REQUEST_LOG_USERS"] == "request-log"
    assert env["MLFLOW_PLATFORM_RELEASE_USERS"] == config.mlflow_pipeline_user


def test_prod_logs_a_quarter_of_iris_for_ninety_days(declared: dict) -> None:
    sink = next(
        d
        for d in _by_kind(documents(declared["prod"]), "Deployment")
        if d["metadata"]["name"] == "request-log"
    )
    env = {
        e["name"]: e.get("value") for e in sink["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    settings = json.loads(env["REQUEST_LOG_DEPLOYMENTS"])
    assert settings == {
        "seldon/iris": {
            "sampleRate": 0.25,
            "retentionDays": 90,
            "exportIntervalMinutes": 60,
            "featureNames": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
            "labelColumn": "species",
        }
    }


def test_prod_scores_iris_nightly_with_the_champions_version_hardened(declared: dict) -> None:
    files = documents(declared["prod"])
    (cronjob,) = [c for c in _by_kind(files, "CronJob") if c["metadata"]["name"] == "iris-scoring"]
    assert cronjob["spec"]["schedule"] == "0 2 * * *"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "model", "score"]
    args = container["args"]
    # The champion's pinned version and digest: what its predictor's pods load and verify.
    (deployment,) = [
        d for d in _by_kind(files, "SeldonDeployment") if d["metadata"]["name"] == "iris"
    ]
    (champion,) = [p for p in deployment["spec"]["predictors"] if p["name"] == "champion"]
    (model,) = champion["componentSpecs"][0]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in model["env"]}
    served = env["MODEL_URI"].removeprefix("models:/")
    assert args[:4] == ["--model", served, "--digest", env["MODEL_DIGEST"]]
    assert args[args.index("--output") + 1] == "mlflow-artifacts:/0/scoring/iris/scored/"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_a_pinned_version_is_scored_by_version_and_digest() -> None:
    """Exactly the version and digest the predictor's MODEL_URI and MODEL_DIGEST carry."""
    digest = "sha256:" + "ab" * 32
    pinned = DeclaredVersion("iris", "7", digest, alias="champion")
    assert model_arguments(pinned) == ["--model", "iris/7", "--digest", digest]


def _pod_spec(workload: dict) -> dict:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def _secret_refs(pod: dict) -> set[str]:
    return {
        env["valueFrom"]["secretKeyRef"]["name"]
        for container in pod.get("containers", []) + pod.get("initContainers", [])
        for env in container.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    }


@pytest.mark.parametrize("stack", STACKS)
def test_the_pipeline_login_is_in_no_serving_workload_of_a_deployment_namespace(
    declared: dict, stack: str
) -> None:
    """Every Secret of a deployment namespace that holds the pipeline (release) user is used
    only by the training CronJobs, the release path itself (they also hold the ledger key);
    batch scoring logs in as the scoring user, the sinks as the request-log user, predictors
    as the serving user."""
    config = load_stack_file(stack_file(stack))
    users = config.mlflow
    namespaces = {d.namespace for d in config.deployments}
    d = declared[stack]
    held = {}
    for secret in d.of_type("kubernetes:core/v1:Secret"):
        metadata = secret.inputs["metadata"]
        if metadata["namespace"] in namespaces:
            data = secret.inputs.get("stringData") or {}
            held[(metadata["namespace"], metadata["name"])] = data.get("value", data)
    pipeline = {
        key for key, data in held.items() if data.get("username") == users.mlflow_pipeline_user
    }
    files = documents(d)
    workloads = [
        w
        for kind in ("Deployment", "CronJob", "Job", "StatefulSet", "DaemonSet")
        for w in _by_kind(files, kind)
        if w["metadata"]["namespace"] in namespaces
    ]
    holders = {
        (w["kind"], w["metadata"]["name"], w["metadata"]["labels"]["app.kubernetes.io/name"])
        for w in workloads
        for name in _secret_refs(_pod_spec(w))
        if (w["metadata"]["namespace"], name) in pipeline
    }
    assert {label for _, _, label in holders} <= {"model-training"}, holders
    scoring = [
        w for w in workloads if w["metadata"]["labels"]["app.kubernetes.io/name"] == "batch-scoring"
    ]
    assert len(scoring) == sum(1 for x in config.deployments if x.batch_scoring)
    for cronjob in scoring:
        (name,) = _secret_refs(_pod_spec(cronjob))
        login = held[(cronjob["metadata"]["namespace"], name)]
        assert login["username"] == users.mlflow_scoring_user == "scoring"

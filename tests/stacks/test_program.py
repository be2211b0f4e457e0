"""The platform program under Pulumi's mock runtime: what each stack declares and in what order."""

import re
from collections import Counter
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pulumi.runtime import rpc

from infra.mesh.sizing import SIZING as MESH_SIZING
from infra.seldon.config import release_fingerprint
from infra.stack_config import load_stack_file
from release.pins import pin_file_for, read_pins
from stacks.mock_runtime import FAKE_GENERATED_PASSWORD, Declared, Registration
from stacks.render import render_stack
from tests.support.pins import pin_test_stack
from tests.support.stacks import STACKS, creates_kind_cluster, stack_file, stack_values

from .test_render import KUBERNETES_VERSION, crd_schema, kubernetes_objects, render, unknown_fields

HELM = "kubernetes:helm.sh/v3:Release"
SDEP = "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment"
IMAGE = "docker:index/image:Image"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"

PLATFORM_NAMESPACES = 6
"""istio-system, seldon-system, mlflow, monitoring, cert-manager and cnpg-system; deployment
namespaces come on top."""
PLATFORM_ALLOWS = 30
"""NetworkPolicy allows of the platform namespaces; each deployment namespace has 3 more."""
CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
SCHEDULED_BACKUP = "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"

COMMON_TYPES = {
    "pulumi:providers:kubernetes": 1,
    HELM: 7,
    # The Seldon (HTTPS) gateway, the plain-HTTP one that only redirects, and the unrouted one
    # the operator's own VirtualServices bind to.
    "kubernetes:networking.istio.io/v1beta1:Gateway": 3,
    "kubernetes:networking.istio.io/v1alpha3:EnvoyFilter": 1,
    # The CA, the gateway, PostgreSQL, MLflow, and the CA bundle the gateway verifies MLflow with;
    # each deployment namespace adds its CA bundle, each training namespace its trigger's.
    CERTIFICATE: 5,
    "kubernetes:networking.istio.io/v1beta1:DestinationRule": 1,
    IMAGE: 1,
    # MLflow's database, admin and Flask key, its serving, pipeline, reader, request-log and scoring
    # users; Grafana's admin.
    "random:index/randomPassword:RandomPassword": 9,
    # The registry database is the operator's Cluster, no longer a StatefulSet of the platform.
    "kubernetes:apps/v1:StatefulSet": 0,
    CLUSTER: 1,
    "kubernetes:apps/v1:Deployment": 1,
    "kubernetes:core/v1:Service": 1,
    # MLflow's own identity (what an EKS Pod Identity association or IRSA role names).
    "kubernetes:core/v1:ServiceAccount": 1,
    "kubernetes:batch/v1:Job": 1,
}
PLATFORM_SECRETS = 4
"""The database owner's, the MLflow server's and Grafana's admin, the alert receivers'
credentials; each deployment adds its MLflow login."""
TRAINING_PER_NAMESPACE = {
    # the webhook token, the pipeline user's MLflow login and the ledger key
    "kubernetes:core/v1:Secret": 3,
    CERTIFICATE: 1,
    "kubernetes:core/v1:ServiceAccount": 1,
    "kubernetes:rbac.authorization.k8s.io/v1:Role": 1,
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": 1,
    "kubernetes:apps/v1:Deployment": 1,
    "kubernetes:core/v1:Service": 1,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": 3,
}
"""The retrain trigger of each namespace with training deployments (infra/training/)."""
TRAINING_PER_DEPLOYMENT = (
    "kubernetes:batch/v1:CronJob",
    "kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig",
)
PER_DEPLOYMENT_TYPES = (
    SDEP,
    "kubernetes:monitoring.coreos.com/v1:PodMonitor",
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
)
ROUTES = "kubernetes:networking.istio.io/v1beta1:VirtualService"
"""MLflow's, Grafana's and the HTTPS redirect, plus the platform-owned route of each deployment."""


def named(declared: Declared, type_token: str, name: str) -> Registration:
    return next(r for r in declared.of_type(type_token) if r.name == name)


def depends_on(declared: Declared, resource: Registration, target: Registration) -> bool:
    """Whether `resource` waits for `target`, directly or through other dependencies."""
    seen, pending = set(), list(resource.dependencies)
    while pending:
        urn = pending.pop()
        if urn == target.urn:
            return True
        if urn not in seen:
            seen.add(urn)
            pending.extend(declared.by_urn(urn).dependencies)
    return False


@pytest.mark.parametrize("stack", STACKS)
def test_resource_set(declared: dict[str, Declared], stack: str) -> None:
    config = load_stack_file(stack_file(stack))
    deployments, namespaces = len(config.deployments), len(config.deployment_namespaces)
    counts = Counter(r.type for r in declared[stack].resources if r.custom)
    database = config.registry_database
    backups = int(database.registry_backups)
    expected = {
        **COMMON_TYPES,
        **dict.fromkeys(PER_DEPLOYMENT_TYPES, deployments),
        # The database's instances are scraped; its backups alert, and the schema upgrade's
        # own identity may create Backups.
        "kubernetes:monitoring.coreos.com/v1:PodMonitor": deployments + 1,
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule": deployments + backups,
        SCHEDULED_BACKUP: backups,
        "kubernetes:core/v1:ServiceAccount": 1 + backups,
        ROUTES: 3 + deployments,
        "kubernetes:core/v1:Namespace": PLATFORM_NAMESPACES + namespaces,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": 3 * (PLATFORM_NAMESPACES + namespaces)
        + PLATFORM_ALLOWS
        + (config.mlflow.ambient_credentials == "podIdentity")
        + database.uses_pod_identity
        + 3 * namespaces,
        # the Seldon webhook wait, and the kind cluster where the stack creates one
        "command:local:Command": 1 + (1 if creates_kind_cluster(stack) else 0),
        "kubernetes:core/v1:Secret": PLATFORM_SECRETS + deployments,
        "kubernetes:cert-manager.io/v1:Certificate": COMMON_TYPES[CERTIFICATE] + namespaces,
    }
    training = [d for d in config.deployments if d.training is not None]
    training_namespaces = len({d.namespace for d in training})
    for role in ("Role", "RoleBinding"):
        expected[f"kubernetes:rbac.authorization.k8s.io/v1:{role}"] = backups
    for type_token, per_namespace in TRAINING_PER_NAMESPACE.items():
        expected[type_token] = expected.get(type_token, 0) + per_namespace * training_namespaces
    expected.update(dict.fromkeys(TRAINING_PER_DEPLOYMENT, len(training)))
    # Training on a DVC data version fetches its `.dvc` files from the Git host.
    expected["kubernetes:networking.k8s.io/v1:NetworkPolicy"] += len(
        {d.namespace for d in training if d.training.data is not None}
    )
    # The training image (also the request-log sink's) and the webhook token.
    logged = {d.namespace for d in config.deployments if d.request_logging is not None}
    scored = [d for d in config.deployments if d.batch_scoring is not None]
    expected[IMAGE] += bool(training or logged or scored)
    expected["random:index/randomPassword:RandomPassword"] += bool(training)
    # The request-log sink of each namespace with logged deployments: Deployment, Service and
    # its MLflow login (infra/request_logging/); MLflow's budget when it runs several pods.
    for type_token in ("kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service",
                       "kubernetes:core/v1:Secret"):  # fmt: skip
        expected[type_token] = expected.get(type_token, 0) + len(logged)
    expected["kubernetes:policy/v1:PodDisruptionBudget"] = int(config.mlflow.mlflow_replicas > 1)
    # Batch scoring: a CronJob and its MLflow login per scored deployment.
    for type_token in ("kubernetes:batch/v1:CronJob", "kubernetes:core/v1:Secret"):
        expected[type_token] = expected.get(type_token, 0) + len(scored)
    for type_token, count in expected.items():
        assert counts[type_token] == count, type_token
    dashboards = [
        r
        for r in declared[stack].of_type("kubernetes:core/v1:ConfigMap")
        if r.inputs["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert len(dashboards) == 3, "dashboards ship once per stack, not per deployment"
    releases = {r.inputs["name"]: r.inputs for r in declared[stack].of_type(HELM)}
    assert set(releases) == {
        "istio-base",
        "istiod",
        "istio-ingressgateway",
        "seldon-core",
        "kube-prometheus-stack",
        "cert-manager",
        "cnpg",
    }
    for release in releases.values():
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", release["version"])


@pytest.mark.parametrize("stack", STACKS)
def test_istio_before_operator_before_seldon_deployment(
    declared: dict[str, Declared], stack: str
) -> None:
    d = declared[stack]
    base, istiod = named(d, HELM, "istio-base"), named(d, HELM, "istiod")
    gateway_release = named(d, HELM, "istio-ingressgateway")
    operator = named(d, HELM, "seldon-core")
    assert depends_on(d, istiod, base)
    assert depends_on(d, gateway_release, istiod)
    assert depends_on(d, operator, istiod)
    for seldon_deployment in d.of_type(SDEP):
        assert depends_on(d, seldon_deployment, operator)
    assert operator.inputs["values"]["istio"] == {
        "enabled": True,
        "gateway": "istio-system/seldon-operator-unrouted",
    }, "the operator's default Gateway is the unrouted one, never the public one"


@pytest.mark.parametrize("stack", STACKS)
def test_seldon_webhook_certificate_comes_from_cert_manager(
    declared: dict[str, Declared], stack: str
) -> None:
    """seldon-core-operator v1.17.1 without `certManager.enabled` signs its `failurePolicy: Fail`
    webhook with Helm's genCA, valid 365 days (templates/webhook.yaml:3-4); with it, a
    cert-manager Certificate (templates/certificate_seldon-serving-cert.yaml), so cert-manager's
    CRDs come first. The webhook wait re-runs on any change of the release."""
    d = declared[stack]
    operator = named(d, HELM, "seldon-core")
    assert operator.inputs["values"]["certManager"] == {"enabled": True}
    assert depends_on(d, operator, named(d, HELM, "cert-manager"))
    (wait,) = [c for c in d.of_type("command:local:Command") if c.name.endswith("webhook-ready")]
    assert wait.inputs["triggers"] == [
        release_fingerprint(operator.inputs["version"], operator.inputs["values"])
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_mesh_autoscalers_are_capped_by_the_sizing_profile(
    declared: dict[str, Declared], stack: str
) -> None:
    """istio 1.30.3 autoscales istiod and the gateway to 5 replicas unless told otherwise
    (manifests/charts/istio-control/istio-discovery/values.yaml:6 `autoscaleMax`,
    manifests/charts/gateway/values.yaml:85 `autoscaling.maxReplicas`); the footprint counts
    them at that maximum."""
    d = declared[stack]
    profile = load_stack_file(stack_file(stack)).sizing.pick(MESH_SIZING)
    istiod = named(d, HELM, "istiod").inputs["values"]
    gateway = named(d, HELM, "istio-ingressgateway").inputs["values"]
    assert istiod.items() >= profile.istiod_scaling_values().items()
    assert gateway.items() >= profile.ingress_gateway_scaling_values().items()
    if creates_kind_cluster(stack):
        assert istiod["autoscaleEnabled"] is False and istiod["replicaCount"] == 1, (
            "a laptop has no room for 5 istiods"
        )
        assert gateway["autoscaling"] == {"enabled": False} and gateway["replicaCount"] == 1


def test_webhook_wait_trigger_changes_with_the_release_values() -> None:
    values = {"certManager": {"enabled": True}, "manager": {"cpuLimit": "500m"}}
    changed = {**values, "manager": {"cpuLimit": "1"}}
    assert release_fingerprint("1.17.1", values) == release_fingerprint("1.17.1", dict(values))
    assert release_fingerprint("1.17.1", values) != release_fingerprint("1.17.1", changed)
    assert release_fingerprint("1.17.1", values) != release_fingerprint("1.17.0", values)


@pytest.mark.parametrize("stack", STACKS)
def test_everything_namespaced_waits_for_its_namespace(
    declared: dict[str, Declared], stack: str
) -> None:
    d = declared[stack]
    namespaces = {
        r.inputs["metadata"]["name"]: r for r in d.of_type("kubernetes:core/v1:Namespace")
    }
    for resource in d.resources:
        if not resource.custom or resource.type == "kubernetes:core/v1:Namespace":
            continue
        namespace = resource.inputs.get("namespace") or resource.inputs.get("metadata", {}).get(
            "namespace"
        )
        if namespace in namespaces and resource.parent != namespaces[namespace].urn:
            assert depends_on(d, resource, namespaces[namespace]), resource.name


@pytest.mark.parametrize("stack", STACKS)
def test_monitors_and_rules_wait_for_the_prometheus_operator(
    declared: dict[str, Declared], stack: str
) -> None:
    d = declared[stack]
    chart = named(d, HELM, "kube-prometheus-stack")
    for type_token in (
        "kubernetes:monitoring.coreos.com/v1:PodMonitor",
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    ):
        for resource in d.of_type(type_token):
            assert depends_on(d, resource, chart), resource.name


@pytest.mark.parametrize("stack", STACKS)
def test_image_digest_flows_into_every_predictor(declared: dict[str, Declared], stack: str) -> None:
    d = declared[stack]
    image = named(d, IMAGE, "model-image")
    for seldon_deployment in d.of_type(SDEP):
        assert image.urn in seldon_deployment.dependencies
    assert re.fullmatch(r"[a-z0-9.\-/:]+:[0-9a-f]{16}", image.inputs["imageName"])
    images = {
        c["image"]
        for seldon_deployment in d.of_type(SDEP)
        for predictor in seldon_deployment.inputs["spec"]["predictors"]
        for c in predictor["componentSpecs"][0]["spec"]["containers"]
    }
    assert len(images) == 1
    (reference,) = images
    assert re.fullmatch(r"[a-z0-9.\-/:]+@sha256:[0-9a-f]{64}", reference)
    assert reference.startswith(image.inputs["imageName"].rsplit(":", 1)[0] + "@sha256:")
    assert d.outputs["image"] == reference


def test_prebuilt_image_is_deployed_without_a_build(tmp_path: Path) -> None:
    values = stack_values("prod")
    reference = "ghcr.io/example-org/mlops-model-server@sha256:" + "ab" * 32
    values["mlops-platform:imagePrebuiltRef"] = reference
    training = "ghcr.io/example-org/mlops-model-training@sha256:" + "cd" * 32
    values["mlops-platform:trainingImagePrebuiltRef"] = training
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text(yaml.safe_dump({"config": values}))
    pin_test_stack(stack)
    d = render_stack("prod", stack)
    assert not d.of_type(IMAGE)
    for seldon_deployment in d.of_type(SDEP):
        for predictor in seldon_deployment.inputs["spec"]["predictors"]:
            pod = predictor["componentSpecs"][0]["spec"]
            assert pod["containers"][0]["image"] == reference
    for cronjob in d.of_type("kubernetes:batch/v1:CronJob"):
        pod = cronjob.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert {c["image"] for c in pod["containers"]} == {training}


def seldon_deployments(declared: Declared) -> dict[tuple[str, str], dict]:
    """(namespace, name) -> spec of every declared SeldonDeployment."""
    return {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs["spec"]
        for r in declared.of_type(SDEP)
    }


@pytest.mark.parametrize("stack", STACKS)
def test_predictors_follow_the_stack_config(declared: dict[str, Declared], stack: str) -> None:
    configured = stack_values(stack)["mlops-platform:deployments"]
    pins = read_pins(pin_file_for(stack_file(stack)))
    specs = seldon_deployments(declared[stack])
    assert set(specs) == {(d.get("namespace", "seldon"), d["name"]) for d in configured}
    for deployment in configured:
        spec = specs[deployment.get("namespace", "seldon"), deployment["name"]]
        wanted_predictors = deployment["predictors"]
        assert spec["name"] == deployment["name"]
        assert [p["name"] for p in spec["predictors"]] == [p["name"] for p in wanted_predictors]
        for predictor, wanted in zip(spec["predictors"], wanted_predictors, strict=True):
            if "autoscaling" in wanted:
                hpa = predictor["componentSpecs"][0]["hpaSpec"]
                assert "replicas" not in predictor
                assert hpa["minReplicas"] == wanted["autoscaling"]["minReplicas"]
                assert hpa["maxReplicas"] == wanted["autoscaling"]["maxReplicas"]
            else:
                assert predictor["replicas"] == wanted["replicas"]
            assert predictor["labels"]["version"] == predictor["annotations"]["version"]
            container = predictor["componentSpecs"][0]["spec"]["containers"][0]
            assert container["name"] == predictor["graph"]["name"]
            env = {e["name"]: e.get("value") for e in container["env"]}
            pin = pins.pin(f"{deployment.get('namespace', 'seldon')}/{deployment['name']}",
                           wanted["name"])  # fmt: skip
            assert pin.reference_matches(wanted["model"])
            assert env["MODEL_URI"] == f"models:/{pin.model}/{pin.version}"
            assert env["MODEL_DIGEST"] == pin.digest
            assert env["SERVER_WORKERS"] == str(deployment["workers"])
            assert container["resources"] == wanted.get("resources", deployment["resources"])
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            if wanted.get("shadow"):
                assert predictor["shadow"] is True
                assert predictor["traffic"] == wanted.get("mirrorPercent", 100)
            else:
                assert predictor["traffic"] == wanted.get("traffic", 100)
        live = [p for p in spec["predictors"] if not p.get("shadow")]
        assert sum(p["traffic"] for p in live) == 100


def _plain_leaks(value, path: str = "") -> list[str]:
    """Paths where the generated password appears outside a secret wrapper."""
    if rpc.is_rpc_secret(value):
        return []
    if isinstance(value, dict):
        return [leak for key, item in value.items() for leak in _plain_leaks(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [leak for i, item in enumerate(value) for leak in _plain_leaks(item, f"{path}[{i}]")]
    return [path] if isinstance(value, str) and FAKE_GENERATED_PASSWORD in value else []


@pytest.mark.parametrize("stack", STACKS)
def test_secrets_stay_secret(declared: dict[str, Declared], stack: str) -> None:
    d = declared[stack]
    for resource in d.resources:
        assert _plain_leaks(resource.inputs) == [], resource.name
    for secret in d.of_type("kubernetes:core/v1:Secret"):
        assert rpc.is_rpc_secret(secret.inputs["stringData"]), secret.name
    assert d.outputs["grafanaAdminPassword"] == "[secret]"
    assert FAKE_GENERATED_PASSWORD not in repr(d.outputs)
    provider = d.of_type("pulumi:providers:kubernetes")[0]
    if creates_kind_cluster(stack):
        assert rpc.is_rpc_secret(provider.inputs["kubeconfig"])


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_people_use(declared: dict[str, Declared], stack: str) -> None:
    outputs = declared[stack].outputs
    assert outputs["grafanaUrl"].startswith("https://grafana.")
    assert outputs["mlflowUrl"].startswith("https://mlflow.")
    configured = stack_values(stack)["mlops-platform:deployments"]
    assert [(d["namespace"], d["name"]) for d in outputs["deployments"]] == [
        (d.get("namespace", "seldon"), d["name"]) for d in configured
    ]
    for entry, deployment in zip(outputs["deployments"], configured, strict=True):
        assert entry["seldonDeployment"] == deployment["name"]
        assert entry["predictionUrl"].endswith(
            f"/seldon/{entry['namespace']}/{deployment['name']}/api/v1.0/predictions"
        )
        assert [p["name"] for p in entry["predictors"]] == [
            p["name"] for p in deployment["predictors"]
        ]
        assert [p["model"] for p in entry["predictors"]] == [
            p["model"] for p in deployment["predictors"]
        ]


def test_private_registry_gets_a_secret_pull_credential(tmp_path: Path) -> None:
    values = stack_values("prod")
    values["mlops-platform:registryUsername"] = "deployer"
    values["mlops-platform:registryPassword"] = {"secure": "v1:bm9uY2U=:Y2lwaGVy"}
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text(yaml.safe_dump({"config": values}))
    pin_test_stack(stack)
    d = render_stack("prod", stack)
    all_pulls = [
        s
        for s in d.of_type("kubernetes:core/v1:Secret")
        if s.inputs["type"] == "kubernetes.io/dockerconfigjson"
    ]
    # The training image's pods have their own (tests/training/test_render_training.py).
    # So has the request-log sink (tests/stacks/test_production_serving.py).
    pulls = [
        s
        for s in all_pulls
        if not any(
            owner in s.urn for owner in ("mlops:training:", "RequestLogSink", "BatchScoring")
        )
    ]
    seldon_deployments = d.of_type(SDEP)
    assert len(pulls) == len(seldon_deployments) == 2
    registry = d.of_type(IMAGE)[0].inputs["registry"]
    assert rpc.is_rpc_secret(registry) or rpc.is_rpc_secret(registry["password"])
    by_name = {pull.inputs["metadata"]["name"]: pull for pull in pulls}
    for seldon_deployment in seldon_deployments:
        pod_specs = [
            predictor["componentSpecs"][0]["spec"]
            for predictor in seldon_deployment.inputs["spec"]["predictors"]
        ]
        ((name,),) = {tuple(s["name"] for s in pod["imagePullSecrets"]) for pod in pod_specs}
        pull = by_name.pop(name)
        assert pull.urn in seldon_deployment.dependencies
        assert (
            pull.inputs["metadata"]["namespace"]
            == seldon_deployment.inputs["metadata"]["namespace"]
        )
        assert rpc.is_rpc_secret(pull.inputs["stringData"])
    assert not by_name, "every pull secret serves one SeldonDeployment"
    (training,) = [s for s in all_pulls if "mlops:training:" in s.urn]
    (scoring,) = [s for s in all_pulls if "BatchScoring" in s.urn]
    for cronjob in d.of_type("kubernetes:batch/v1:CronJob"):
        pod = cronjob.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        owner = scoring if "BatchScoring" in cronjob.urn else training
        assert pod["imagePullSecrets"] == [{"name": owner.inputs["metadata"]["name"]}]
    (sink,) = [s for s in all_pulls if "RequestLogSink" in s.urn]
    (sink_deployment,) = [
        r for r in d.of_type("kubernetes:apps/v1:Deployment") if "RequestLogSink" in r.urn
    ]
    sink_pod = sink_deployment.inputs["spec"]["template"]["spec"]
    assert sink_pod["imagePullSecrets"] == [{"name": sink.inputs["metadata"]["name"]}]


THREE_DEPLOYMENTS = [
    {
        "name": "iris",
        "predictors": [
            {"name": "champion", "model": "iris@champion", "traffic": 90},
            {"name": "challenger", "model": "iris@challenger", "traffic": 10},
            {"name": "shadow", "model": "iris@candidate", "shadow": True, "mirrorPercent": 20},
        ],
    },
    {
        "name": "wine",
        "namespace": "models",
        "monitoring": {"latencySloSeconds": 0.1},
        "predictors": [
            {"name": "champion", "model": "wine@champion", "traffic": 50},
            {"name": "challenger", "model": "wine/3", "traffic": 50},
        ],
    },
    {
        "name": "iris",
        "namespace": "models",
        "predictors": [{"name": "champion", "model": "iris/2"}],
    },
]
"""Two namespaces, the name 'iris' in both, the predictor name 'champion' in all three."""


@pytest.fixture(scope="module")
def three_deployments(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Declared]:
    """A stack file serving three deployments, and what the program declares for it."""
    values = stack_values("dev")
    values["mlops-platform:deployments"] = THREE_DEPLOYMENTS
    values["mlops-platform:servingNamespaces"] = ["seldon", "models"]
    path = tmp_path_factory.mktemp("three") / "Pulumi.three.yaml"
    path.write_text(yaml.safe_dump({"config": values}))
    pin_test_stack(path)
    return path, render_stack("three", path)


def object_key(resource: Registration) -> tuple[str, str, str, str]:
    metadata = resource.inputs.get("metadata", {})
    return (resource.inputs["apiVersion"], resource.inputs["kind"],
            metadata.get("namespace", ""), metadata.get("name", ""))  # fmt: skip


def test_three_deployments_declare_each_kubernetes_object_once(three_deployments) -> None:
    _, d = three_deployments
    keys = Counter(object_key(r) for r in d.resources if r.custom and "kind" in r.inputs)
    assert [key for key, count in keys.items() if count > 1] == []


def test_three_deployments_each_get_their_objects_in_their_namespace(three_deployments) -> None:
    _, d = three_deployments
    wanted = {("seldon", "iris"), ("models", "wine"), ("models", "iris")}
    assert set(seldon_deployments(d)) == wanted
    for type_token, suffix in (
        ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "-seldon-pods"),
        ("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "-model-alerts"),
    ):
        found = {
            (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"].removesuffix(suffix))
            for r in d.of_type(type_token)
            if r.inputs["metadata"]["namespace"] != "mlflow"  # the registry database's own
        }
        assert found == wanted, type_token
    dashboards = {
        r.inputs["metadata"]["name"]
        for r in d.of_type("kubernetes:core/v1:ConfigMap")
        if r.inputs["metadata"]["labels"].get("grafana_dashboard") == "1"
    }
    # One set for the stack: each dashboard picks the deployment with its variables.
    assert dashboards == {f"mlops-dashboard-{kind}" for kind in ("serving", "ab", "model")}
    monitors = {
        (
            r.inputs["metadata"]["namespace"],
            r.inputs["spec"]["selector"]["matchLabels"]["seldon-deployment-id"],
        )
        for r in d.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
        if r.inputs["metadata"]["namespace"] != "mlflow"
    }
    assert monitors == wanted
    (wine_rules,) = [
        r
        for r in d.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
        if r.inputs["metadata"]["name"] == "wine-model-alerts"
    ]
    latency = next(
        rule
        for rule in wine_rules.inputs["spec"]["groups"][0]["rules"]
        if rule["alert"] == "ModelLatencySLOBreach"
    )
    assert latency["expr"].endswith("> 0.1"), "the deployment's override applies"
    outputs = {(o["namespace"], o["name"]): o for o in d.outputs["deployments"]}
    assert outputs["models", "iris"]["predictionUrl"].endswith(
        "/seldon/models/iris/api/v1.0/predictions"
    )


def test_three_deployments_namespaces_get_the_platform_labels_and_policies(
    three_deployments,
) -> None:
    _, d = three_deployments
    namespaces = {
        r.inputs["metadata"]["name"]: r for r in d.of_type("kubernetes:core/v1:Namespace")
    }
    for name in ("seldon", "models"):
        labels = namespaces[name].inputs["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
        policies = {
            r.inputs["metadata"]["name"]
            for r in d.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
            if r.inputs["metadata"]["namespace"] == name
        }
        assert {"default-deny", "allow-executor-from-gateway", "allow-to-mlflow"} <= policies, name
    (mlflow_ingress,) = [
        r
        for r in d.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r.inputs["metadata"]["namespace"] == "mlflow"
        and r.inputs["spec"]["policyTypes"] == ["Ingress"]
        and r.inputs["metadata"]["name"].startswith("allow-from-")
    ]
    peers = [
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in mlflow_ingress.inputs["spec"]["ingress"][0]["from"]
    ]
    assert {"seldon", "models"} <= set(peers)


def test_three_deployments_render_to_schema_valid_objects(three_deployments, tmp_path) -> None:
    """The real renderer's output, each object checked against the Kubernetes OpenAPI or its
    CRD schema (tests/schemas)."""
    path, _ = three_deployments
    out = tmp_path / "out"
    result = render("--stack", "three", "--config-file", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    objects = kubernetes_objects(out)
    kinds = Counter(
        document["kind"]
        for document in objects.values()
        if document["metadata"].get("namespace") != "mlflow"  # the registry database's monitors
    )
    assert (kinds["SeldonDeployment"], kinds["PodMonitor"], kinds["PrometheusRule"]) == (3, 3, 3)
    for name, document in objects.items():
        schema = crd_schema(document)
        if schema is None:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        else:
            jsonschema.validators.validator_for(schema)(schema).validate(document)
            assert unknown_fields(document, schema) == [], name

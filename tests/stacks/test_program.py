"""The platform program under Pulumi's mock runtime: what each stack declares and in what order."""

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from pulumi.runtime import rpc

from stacks.mock_runtime import FAKE_GENERATED_PASSWORD, Declared, Registration
from stacks.render import render_stack

from .conftest import STACKS, stack_values

HELM = "kubernetes:helm.sh/v3:Release"
SDEP = "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment"
IMAGE = "docker:index/image:Image"

COMMON_TYPES = {
    "pulumi:providers:kubernetes": 1,
    "kubernetes:core/v1:Namespace": 5,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": 5 * 3 + 16,
    HELM: 5,
    "kubernetes:networking.istio.io/v1beta1:Gateway": 1,
    "kubernetes:networking.istio.io/v1beta1:VirtualService": 2,
    SDEP: 1,
    IMAGE: 1,
    "random:index/randomPassword:RandomPassword": 3,
    "kubernetes:core/v1:Secret": 3,
    "kubernetes:apps/v1:StatefulSet": 2,
    "kubernetes:apps/v1:Deployment": 1,
    "kubernetes:core/v1:Service": 3,
    "kubernetes:batch/v1:Job": 1,
    "kubernetes:monitoring.coreos.com/v1:PodMonitor": 1,
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": 1,
    "command:local:Command": 1,  # the Seldon webhook wait
}


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
    counts = Counter(r.type for r in declared[stack].resources if r.custom)
    expected = dict(COMMON_TYPES)
    if stack == "dev":
        expected["command:local:Command"] += 1  # the kind cluster
    for type_token, count in expected.items():
        assert counts[type_token] == count, type_token
    dashboards = [
        r
        for r in declared[stack].of_type("kubernetes:core/v1:ConfigMap")
        if r.inputs["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert len(dashboards) >= 3
    releases = {r.inputs["name"]: r.inputs for r in declared[stack].of_type(HELM)}
    assert set(releases) == {
        "istio-base",
        "istiod",
        "istio-ingressgateway",
        "seldon-core",
        "kube-prometheus-stack",
    }
    for release in releases.values():
        assert re.fullmatch(r"\d+\.\d+\.\d+", release["version"])


@pytest.mark.parametrize("stack", STACKS)
def test_istio_before_operator_before_seldon_deployment(
    declared: dict[str, Declared], stack: str
) -> None:
    d = declared[stack]
    base, istiod = named(d, HELM, "istio-base"), named(d, HELM, "istiod")
    gateway_release = named(d, HELM, "istio-ingressgateway")
    operator = named(d, HELM, "seldon-core")
    seldon_deployment = d.of_type(SDEP)[0]
    assert depends_on(d, istiod, base)
    assert depends_on(d, gateway_release, istiod)
    assert depends_on(d, operator, istiod)
    assert depends_on(d, seldon_deployment, operator)
    assert operator.inputs["values"]["istio"] == {
        "enabled": True,
        "gateway": "istio-system/seldon-gateway",
    }


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
    image = d.of_type(IMAGE)[0]
    seldon_deployment = d.of_type(SDEP)[0]
    assert image.urn in seldon_deployment.dependencies
    assert re.fullmatch(r"[a-z0-9.\-/:]+:[0-9a-f]{16}", image.inputs["imageName"])
    images = {
        c["image"]
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
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text(yaml.safe_dump({"config": values}))
    d = render_stack("prod", stack)
    assert not d.of_type(IMAGE)
    containers = d.of_type(SDEP)[0].inputs["spec"]["predictors"][0]["componentSpecs"][0]
    assert containers["spec"]["containers"][0]["image"] == reference


@pytest.mark.parametrize("stack", STACKS)
def test_predictors_follow_the_stack_config(declared: dict[str, Declared], stack: str) -> None:
    configured = stack_values(stack)["mlops-platform:serving"]["predictors"]
    spec = declared[stack].of_type(SDEP)[0].inputs["spec"]
    assert [p["name"] for p in spec["predictors"]] == [p["name"] for p in configured]
    for predictor, wanted in zip(spec["predictors"], configured, strict=True):
        assert predictor["replicas"] == wanted["replicas"]
        assert predictor["labels"]["version"] == predictor["annotations"]["version"]
        container = predictor["componentSpecs"][0]["spec"]["containers"][0]
        assert container["name"] == predictor["graph"]["name"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["MODEL_URI"] == f"models:/{wanted['model']}"
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        if wanted.get("shadow"):
            assert predictor["shadow"] is True
            assert predictor["traffic"] == wanted.get("mirrorPercent", 100)
        else:
            assert predictor["traffic"] == wanted["traffic"]
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
    if stack == "dev":
        assert rpc.is_rpc_secret(provider.inputs["kubeconfig"])


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_people_use(declared: dict[str, Declared], stack: str) -> None:
    outputs = declared[stack].outputs
    assert outputs["predictionUrl"].endswith("/seldon/seldon/iris/api/v1.0/predictions")
    assert outputs["grafanaUrl"].startswith("http://grafana.")
    assert outputs["mlflowUrl"].startswith("http://mlflow.")
    assert [p["name"] for p in outputs["predictors"]] == ["champion", "challenger", "shadow"]


def test_private_registry_gets_a_secret_pull_credential(tmp_path: Path) -> None:
    values = stack_values("prod")
    values["mlops-platform:registryUsername"] = "deployer"
    values["mlops-platform:registryPassword"] = {"secure": "v1:bm9uY2U=:Y2lwaGVy"}
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text(yaml.safe_dump({"config": values}))
    d = render_stack("prod", stack)
    (pull,) = [
        s
        for s in d.of_type("kubernetes:core/v1:Secret")
        if s.inputs["type"] == "kubernetes.io/dockerconfigjson"
    ]
    assert pull.inputs["metadata"]["namespace"] == "seldon"
    assert rpc.is_rpc_secret(pull.inputs["stringData"])
    registry = d.of_type(IMAGE)[0].inputs["registry"]
    assert rpc.is_rpc_secret(registry) or rpc.is_rpc_secret(registry["password"])
    for predictor in d.of_type(SDEP)[0].inputs["spec"]["predictors"]:
        pod = predictor["componentSpecs"][0]["spec"]
        assert pod["imagePullSecrets"] == [{"name": pull.inputs["metadata"]["name"]}]

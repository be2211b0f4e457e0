"""`python -m stacks.render`: every rendered object validates against real schemas; a bad stack
file exits non-zero, names the key and writes nothing."""

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from infra.cluster.kind_images import DEFAULT_NODE_IMAGE
from stacks.render import write

from .conftest import REPO_ROOT, STACKS, stack_values

SCHEMAS = REPO_ROOT / "tests" / "schemas"
KUBERNETES_VERSION = re.search(r":v(\d+\.\d+)\.", DEFAULT_NODE_IMAGE).group(1)
"""The Kubernetes minor of the pinned kind node image, whose API the objects must fit."""


def render(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stacks.render", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each committed stack rendered by the real command line."""
    out = {}
    for stack in STACKS:
        directory = tmp_path_factory.mktemp("render") / stack
        result = render("--stack", stack, "--out", str(directory))
        assert result.returncode == 0, result.stderr
        out[stack] = directory
    return out


def load_documents(directory: Path) -> dict[str, dict]:
    """Relative path -> document for every file of a render."""
    return {
        path.relative_to(directory).as_posix(): yaml.safe_load(path.read_text())
        for path in sorted(directory.rglob("*.yaml"))
    }


def crd_schema(document: dict) -> dict | None:
    group, _, version = document["apiVersion"].rpartition("/")
    path = SCHEMAS / group / f"{document['kind'].lower()}_{version}.json"
    return json.loads(path.read_text()) if group and path.is_file() else None


TYPE_AND_OBJECT_META = ("apiVersion", "kind", "metadata")


def unknown_fields(value, schema: dict, path: str = "") -> list[str]:
    """Fields the API server would prune: not in a structural schema's `properties`
    (type and object metadata are checked by the API server itself, not by CRD schemas)."""
    if not path and isinstance(value, dict):
        value = {k: v for k, v in value.items() if k not in TYPE_AND_OBJECT_META}
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if isinstance(value, dict) and "properties" in schema:
        found = []
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += unknown_fields(item, schema["properties"][key], f"{path}.{key}")
        return found
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        return [
            leak
            for key, item in value.items()
            for leak in unknown_fields(item, schema["additionalProperties"], f"{path}.{key}")
        ]
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [
            leak
            for i, item in enumerate(value)
            for leak in unknown_fields(item, schema["items"], f"{path}[{i}]")
        ]
    return []


def kubernetes_objects(directory: Path) -> dict[str, dict]:
    return {
        name: document
        for name, document in load_documents(directory).items()
        if isinstance(document, dict) and "apiVersion" in document and "kind" in document
    }


@pytest.mark.parametrize("stack", STACKS)
def test_top_level_holds_only_kubernetes_objects(rendered: dict[str, Path], stack: str) -> None:
    top_level = {p.name for p in rendered[stack].glob("*.yaml")}
    assert top_level == set(kubernetes_objects(rendered[stack]))
    assert {p.name for p in rendered[stack].iterdir() if p.is_dir()} == {"helm-releases", "pulumi"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_validates(rendered: dict[str, Path], stack: str) -> None:
    objects = kubernetes_objects(rendered[stack])
    assert len(objects) > 50
    custom = 0
    for name, document in objects.items():
        schema = crd_schema(document)
        if schema is not None:
            custom += 1
            # The CRD schemas carry Go-style patterns (`(?i)` mid-pattern) that jsonschema's
            # meta-schema check rejects; they only matter for fields the platform never sets.
            jsonschema.validators.validator_for(schema)(schema).validate(document)
            assert unknown_fields(document, schema) == [], name
        else:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    assert custom >= 6  # SeldonDeployment, Gateway, 2 VirtualServices, PodMonitor, PrometheusRule


def test_schema_validation_catches_a_misspelt_field(rendered: dict[str, Path]) -> None:
    document = load_documents(rendered["dev"])["seldondeployment-seldon-iris.yaml"]
    document["spec"]["predictors"][0]["trafic"] = 10
    schema = crd_schema(document)
    assert unknown_fields(document, schema) == [".spec.predictors[0].trafic"]
    deployment = load_documents(rendered["dev"])["deployment-mlflow-mlflow.yaml"]
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_prod_splits_traffic_and_mirrors_to_a_shadow(rendered: dict[str, Path]) -> None:
    document = load_documents(rendered["prod"])["seldondeployment-seldon-iris.yaml"]
    predictors = document["spec"]["predictors"]
    live = [p for p in predictors if not p.get("shadow")]
    shadows = [p for p in predictors if p.get("shadow")]
    assert len(live) >= 2 and sum(p["traffic"] for p in live) == 100
    assert len(shadows) == 1 and 1 <= shadows[0]["traffic"] <= 100


@pytest.mark.parametrize("stack", STACKS)
def test_helm_releases_show_chart_version_and_values(rendered: dict[str, Path], stack: str) -> None:
    releases = {
        doc["helmRelease"]: doc
        for doc in load_documents(rendered[stack]).values()
        if "helmRelease" in doc
    }
    prometheus = releases["kube-prometheus-stack"]["values"]["prometheus"]["prometheusSpec"]
    assert prometheus["podMonitorSelectorNilUsesHelmValues"] is False
    assert prometheus["ruleSelectorNilUsesHelmValues"] is False
    sidecar = releases["kube-prometheus-stack"]["values"]["grafana"]["sidecar"]["dashboards"]
    assert (sidecar["label"], sidecar["labelValue"]) == ("grafana_dashboard", "1")
    assert releases["seldon-core"]["chart"] == "seldon-core-operator"
    assert releases["seldon-core"]["version"] == "1.17.1"


@pytest.mark.parametrize("stack", STACKS)
def test_render_is_deterministic_and_holds_no_generated_secret(
    rendered: dict[str, Path], stack: str, tmp_path: Path
) -> None:
    again = tmp_path / stack
    assert render("--stack", stack, "--out", str(again)).returncode == 0
    assert load_documents(again) == load_documents(rendered[stack])
    text = "".join(p.read_text() for p in again.rglob("*.yaml"))
    assert "fake-random-password" not in text
    assert "password: '[secret]'" in text


BAD_STACKS = [
    (
        "traffic",
        lambda v: v["mlops-platform:deployments"][0]["predictors"][0].update(traffic=70),
        "must sum to exactly 100",
    ),
    (
        "name",
        lambda v: v["mlops-platform:deployments"][0]["predictors"][1].update(name="B_side"),
        "mlops-platform:deployments[0].predictors[1].name",
    ),
    (
        "secret",
        lambda v: v.update({"mlops-platform:registryPassword": "plaintext"}),
        "mlops-platform:registryPassword",
    ),
    (
        "version",
        lambda v: v.update({"mlops-platform:kubePrometheusStackVersion": "^77"}),
        "mlops-platform:kubePrometheusStackVersion",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(mutate, expected, id=name) for name, mutate, expected in BAD_STACKS],
)
def test_invalid_stack_file_exits_non_zero_and_writes_nothing(
    tmp_path: Path, mutate, expected: str
) -> None:
    values = stack_values("dev")
    mutate(values)
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text(yaml.safe_dump({"config": values}))
    out = tmp_path / "out"
    result = render("--stack", "dev", "--config-file", str(stack_file), "--out", str(out))
    assert result.returncode != 0
    assert expected in result.stderr
    assert str(stack_file) in result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [stack_file]


def test_missing_stack_file_is_named(tmp_path: Path) -> None:
    result = render("--stack", "staging", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Pulumi.staging.yaml does not exist" in result.stderr


def test_a_render_that_fails_while_writing_keeps_the_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write({"namespace-a.yaml": {"kind": "Namespace"}}, out)
    unwritable = {"namespace-a.yaml": {"kind": "Namespace"}, "z.yaml": {"value": object()}}

    with pytest.raises(yaml.representer.RepresenterError):
        write(unwritable, out)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in out.iterdir()] == ["namespace-a.yaml"]
    write({"namespace-b.yaml": {"kind": "Namespace"}}, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in out.iterdir()] == ["namespace-b.yaml"]


def render_dependencies(directory: Path) -> dict[str, list[str]]:
    return yaml.safe_load((directory / "pulumi" / "dependencies.yaml").read_text())


@pytest.mark.parametrize("stack", STACKS)
def test_dependencies_name_every_rendered_resource(rendered: dict[str, Path], stack: str) -> None:
    waits = render_dependencies(rendered[stack])
    files = set(load_documents(rendered[stack])) - {
        "pulumi/dependencies.yaml",
        "pulumi/stack-outputs.yaml",
    }
    assert set(waits) == files
    assert {target for targets in waits.values() for target in targets} <= files
    assert "namespace-seldon.yaml" in waits["deployment-mlflow-mlflow.yaml"]  # via its component


@pytest.mark.parametrize("stack", STACKS)
def test_every_seldon_deployment_waits_on_the_webhook_wait(
    rendered: dict[str, Path], stack: str
) -> None:
    documents = load_documents(rendered[stack])
    waits = render_dependencies(rendered[stack])
    webhook_waits = {
        name
        for name, doc in documents.items()
        if doc.get("pulumiResource") == "command:local:Command"
        and "seldon-webhook-wait.sh" in doc["inputs"]["create"]
    }
    assert len(webhook_waits) == 1
    (webhook_wait,) = webhook_waits
    assert "helm-releases/seldon-core.yaml" in waits[webhook_wait]
    deployments = [n for n, d in documents.items() if d.get("kind") == "SeldonDeployment"]
    assert deployments
    for name in deployments:
        assert webhook_wait in waits[name], name


def test_the_kind_image_waits_on_the_cluster(rendered: dict[str, Path]) -> None:
    for stack, directory in rendered.items():
        documents = load_documents(directory)
        kind = [
            n
            for n, d in documents.items()
            if d.get("pulumiResource") == "command:local:Command"
            and "kind-cluster.sh" in d["inputs"]["create"]
        ]
        images = [
            n for n, d in documents.items() if d.get("pulumiResource", "").startswith("docker:")
        ]
        if not kind:
            continue
        assert images, stack
        for image in images:
            assert kind[0] in render_dependencies(directory)[image], (stack, image)


@pytest.mark.parametrize("stack", STACKS)
def test_commands_in_state_use_relative_script_paths(rendered: dict[str, Path], stack: str) -> None:
    for doc in load_documents(rendered[stack]).values():
        if doc.get("pulumiResource") == "command:local:Command":
            for phase in ("create", "delete"):
                script = doc["inputs"].get(phase, "").split()[1:2]
                assert script == [] or not script[0].startswith("/"), doc["name"]
                assert script == [] or (REPO_ROOT / script[0]).is_file(), doc["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_model_container_declares_metrics_port_6000(
    rendered: dict[str, Path], stack: str
) -> None:
    """So the operator does not number them 6000, 6001, ... across predictors."""
    for doc in load_documents(rendered[stack]).values():
        if doc.get("kind") != "SeldonDeployment":
            continue
        for predictor in doc["spec"]["predictors"]:
            for component in predictor["componentSpecs"]:
                for container in component["spec"]["containers"]:
                    assert {"name": "metrics", "containerPort": 6000} in container["ports"]

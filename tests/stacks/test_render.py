"""`python -m stacks.render`: every rendered object validates against real schemas; a bad stack
file exits non-zero, names the key and writes nothing."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from .conftest import REPO_ROOT, STACKS, stack_values

SCHEMAS = REPO_ROOT / "tests" / "schemas"
KUBERNETES_VERSION = "1.33"


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

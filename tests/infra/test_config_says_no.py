"""Config that says no: no silent coercion, quantities above zero with requests within limits,
pinned images, and no duplicated YAML keys. Each case is a committed stack file with one
change, and the error names the file and the `mlops-platform:<key path>`."""

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from infra.config_types import ImageReference, cpu_cores, memory_bytes
from infra.stack_config import StackConfigError, load_stack_file
from tests.support.stacks import REPO_ROOT

STACK_FILES = sorted(REPO_ROOT.glob("Pulumi.*.yaml"))
P = "mlops-platform:"


def first_deployment(values: dict) -> tuple[str, dict]:
    """The key path and object of the stack's first deployment."""
    if f"{P}deployments" in values:
        return f"{P}deployments[0]", values[f"{P}deployments"][0]
    return f"{P}serving", values[f"{P}serving"]


def base_values() -> dict:
    return yaml.safe_load(STACK_FILES[0].read_text())["config"]


def predictor_field(field: str, value) -> Callable[[dict], str]:
    def mutate(values: dict) -> str:
        where, deployment = first_deployment(values)
        deployment["predictors"][0][field] = value
        return f"{where}.predictors[0].{field}"

    return mutate


def resources(requests: dict, limits: dict, expected_leaf: str) -> Callable[[dict], str]:
    def mutate(values: dict) -> str:
        where, deployment = first_deployment(values)
        deployment["predictors"][0]["resources"] = {"requests": requests, "limits": limits}
        return f"{where}.predictors[0].resources{expected_leaf}"

    return mutate


def flat(key: str, value) -> Callable[[dict], str]:
    def mutate(values: dict) -> str:
        values[f"{P}{key}"] = value
        return f"{P}{key}"

    return mutate


CASES = {
    "replicas-true": (predictor_field("replicas", True), "takes a number, not the boolean True"),
    "traffic-string": (predictor_field("traffic", "90"), "valid integer"),
    "zero-cpu": (
        resources({"cpu": "0", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}, ".requests.cpu"),
        "above zero",
    ),
    "zero-memory": (
        resources({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "0Mi"}, ".limits.memory"),
        "above zero",
    ),
    "cpu-request-over-limit": (
        resources({"cpu": "1500m", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}, ""),
        "cpu request 1500m > limit 1",
    ),
    "memory-request-over-limit": (
        resources({"cpu": "1", "memory": "2Gi"}, {"cpu": "1", "memory": "1536Mi"}, ""),
        "memory request 2Gi > limit 1536Mi",
    ),
    "flat-number-true": (flat("mlflowReplicas", True), "takes a number, not the boolean True"),
    "flat-boolean-one": (flat("createKindCluster", 1), "takes true or false, got 1"),
    "flat-boolean-yes": (flat("persistentStorage", "yes"), "takes true or false, got 'yes'"),
    "untagged-node-image": (flat("kindNodeImage", "kindest/node"), "needs a tag"),
    "untagged-mlflow-image": (flat("mlflowImage", "localhost:5001/mlflow"), "needs a tag"),
}


@pytest.mark.parametrize("case", CASES)
def test_stack_file_says_no(tmp_path: Path, case: str) -> None:
    mutate, expected = CASES[case]
    values = base_values()
    where = mutate(values)
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text(yaml.safe_dump({"config": values}))
    with pytest.raises(StackConfigError) as error:
        load_stack_file(stack_file)
    message = str(error.value)
    assert str(stack_file) in message
    assert f"{where}: " in message
    assert expected in message


def test_a_duplicated_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    text = STACK_FILES[0].read_text()
    first = next(line for line in text.splitlines() if line.startswith(f"  {P}"))
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text(text.rstrip("\n") + "\n" + first + "\n")
    with pytest.raises(StackConfigError) as error:
        load_stack_file(stack_file)
    key = first.strip().split(":")[0] + ":" + first.strip().split(":")[1]
    assert str(stack_file) in str(error.value)
    assert f"key '{key}' appears twice" in str(error.value)


def test_a_duplicated_key_inside_an_object_is_refused(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text("config:\n  mlops-platform:x:\n    a: 1\n    a: 2\n")
    with pytest.raises(StackConfigError, match="key 'a' appears twice: line 3 and line 4"):
        load_stack_file(stack_file)


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_committed_stack_files_pass(stack_file: Path) -> None:
    load_stack_file(stack_file)


def test_flat_keys_as_pulumi_passes_them_still_parse(tmp_path: Path) -> None:
    """Under `pulumi up` every flat key is a string ("true", "1"): those are not coercions."""
    values = base_values()
    values[f"{P}createKindCluster"] = "true"
    values[f"{P}mlflowReplicas"] = "1"
    stack_file = tmp_path / "Pulumi.strings.yaml"
    stack_file.write_text(yaml.safe_dump({"config": values}))
    config = load_stack_file(stack_file)
    assert config.cluster.create_kind_cluster is True
    assert config.mlflow.mlflow_replicas == 1


@pytest.mark.parametrize(
    "reference",
    [
        "registry:3.0.0",
        "localhost:5001/mlops/model-server:0123abcd",
        "quay.io/org/name@sha256:" + "a" * 64,
        "kindest/node:v1.34.0@sha256:" + "b" * 64,
    ],
)
def test_pinned_image_references_pass(reference: str) -> None:
    assert TypeAdapter(ImageReference).validate_python(reference) == reference


@pytest.mark.parametrize(
    "reference", ["postgres", "localhost:5001/mlops/model-server", "name@sha256:short", "UPPER:1"]
)
def test_unpinned_or_malformed_image_references_fail(reference: str) -> None:
    with pytest.raises(ValidationError, match="needs a tag"):
        TypeAdapter(ImageReference).validate_python(reference)


def test_quantities_compare_across_units() -> None:
    assert cpu_cores("500m") == cpu_cores("0.5")
    assert memory_bytes("1Gi") == memory_bytes("1024Mi") > memory_bytes("1G")
    with pytest.raises(ValueError, match="CPU quantity"):
        cpu_cores("1Gi")

"""The Seldon executor's hardening: the rendered admission policies validate against the
Kubernetes 1.36 API (kubernetes-validate, strict), and their CEL, evaluated by a real CEL
runtime (cel-python), refuses the executor as seldon-core v1.17.1 injects it (only `runAsUser:
8888` and `allowPrivilegeEscalation: false`, operator/controllers/seldondeployment_engine.go:
341-344) and admits it once the mutation's apply configuration is merged in (containers merge
by `name`, as server-side apply merges a `listType: map` list)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import celpy
import kubernetes_validate
import pytest

from infra.cluster.kind_images import DEFAULT_NODE_IMAGE
from infra.seldon.executor_hardening import EXECUTOR_CONTAINER, HARDENED, POLICY_NAME
from stacks.render import documents, render_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(path.name.split(".")[1] for path in REPO_ROOT.glob("Pulumi.*.yaml"))
KUBERNETES_VERSION = re.search(r":v(\d+\.\d+)\.", DEFAULT_NODE_IMAGE).group(1)
"""The API the objects must fit: the pinned kind node image's (1.36: MutatingAdmissionPolicy v1)."""
AS_THE_OPERATOR_INJECTS_IT = {
    "name": EXECUTOR_CONTAINER,
    "image": "docker.io/seldonio/seldon-core-executor:1.17.1",
    "securityContext": {"runAsUser": 8888, "allowPrivilegeEscalation": False},
}


@pytest.fixture(scope="module", params=STACKS)
def rendered(request) -> dict[str, dict]:
    files = documents(render_stack(request.param, REPO_ROOT / f"Pulumi.{request.param}.yaml"))
    return {name: d for name, d in files.items() if "/" not in name or name.startswith("pulumi/")}


def _one(files: dict[str, dict], kind: str) -> dict:
    """The executor-hardening object of `kind` (other policies, such as the retrain trigger's,
    live beside it)."""
    (found,) = [
        d
        for d in files.values()
        if d.get("kind") == kind and d.get("metadata", {}).get("name") == POLICY_NAME
    ]
    return found


def _cel(expression: str):
    environment = celpy.Environment()
    return environment.program(environment.compile(expression))


def _predictor_pods(files: dict[str, dict]) -> list[dict]:
    """Each predictor's pod as the operator creates it: the SeldonDeployment's pod spec plus
    the executor container it injects."""
    pods = []
    for sdep in (d for d in files.values() if d.get("kind") == "SeldonDeployment"):
        for predictor in sdep["spec"]["predictors"]:
            spec = copy.deepcopy(predictor["componentSpecs"][0]["spec"])
            spec["containers"].append(copy.deepcopy(AS_THE_OPERATOR_INJECTS_IT))
            pods.append({"metadata": {"labels": {"app.kubernetes.io/managed-by": "seldon-core"}},
                         "spec": spec})  # fmt: skip
    assert pods
    return pods


def _apply_configuration(expression: str) -> dict:
    """The mutation's CEL object literal read back as data: `Object.x.y{` -> `{`, `key:` ->
    `"key":` (the literal holds only field names, strings, booleans and lists)."""
    compiled = celpy.Environment().compile(expression)  # a syntax error fails here
    assert compiled is not None
    text = re.sub(r"Object(\.\w+)*\{", "{", expression)
    return json.loads(re.sub(r"(\w+):", r'"\1":', text))


def _apply(pod: dict, configuration: dict) -> dict:
    """Server-side apply of `configuration` onto `pod`: maps merge, containers merge by name."""

    def merge(base, patch):
        if isinstance(base, dict) and isinstance(patch, dict):
            return {**base, **{k: merge(base.get(k), v) for k, v in patch.items()}}
        return patch

    merged = copy.deepcopy(pod)
    for patch in configuration["spec"]["containers"]:
        containers = merged["spec"]["containers"]
        index = next(i for i, c in enumerate(containers) if c["name"] == patch["name"])
        containers[index] = merge(containers[index], patch)
    return merged


def test_policies_validate_against_the_kubernetes_api(rendered) -> None:
    kinds = (
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    )
    for kind in kinds:
        kubernetes_validate.validate(_one(rendered, kind), KUBERNETES_VERSION, strict=True)
    binding = _one(rendered, "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["validationActions"] == ["Deny"]
    for kind in ("MutatingAdmissionPolicy", "ValidatingAdmissionPolicy"):
        assert _one(rendered, kind)["spec"]["failurePolicy"] == "Fail"


def test_the_injected_executor_is_refused_and_the_mutated_one_admitted(rendered) -> None:
    mutating = _one(rendered, "MutatingAdmissionPolicy")["spec"]
    validating = _one(rendered, "ValidatingAdmissionPolicy")["spec"]
    (condition,) = validating["matchConditions"]
    assert mutating["matchConditions"] == [condition]
    (validation,) = validating["validations"]
    matches, valid = _cel(condition["expression"]), _cel(validation["expression"])
    (mutation,) = mutating["mutations"]
    configuration = _apply_configuration(mutation["applyConfiguration"]["expression"])
    assert configuration == {
        "spec": {"containers": [{"name": EXECUTOR_CONTAINER, "securityContext": HARDENED}]}
    }
    for pod in _predictor_pods(rendered):
        assert matches.evaluate({"object": celpy.json_to_cel(pod)})
        assert not valid.evaluate({"object": celpy.json_to_cel(pod)})
        hardened = _apply(pod, configuration)
        assert valid.evaluate({"object": celpy.json_to_cel(hardened)})
        executor = hardened["spec"]["containers"][-1]["securityContext"]
        assert executor["runAsUser"] == 8888 and executor["readOnlyRootFilesystem"] is True
        model = hardened["spec"]["containers"][0]
        assert model == pod["spec"]["containers"][0]


def test_pods_without_the_executor_are_left_alone(rendered) -> None:
    condition = _one(rendered, "MutatingAdmissionPolicy")["spec"]["matchConditions"][0]
    pod = {"spec": {"containers": [{"name": "train", "image": "x"}]}}
    assert not _cel(condition["expression"]).evaluate({"object": celpy.json_to_cel(pod)})


def test_policies_cover_the_deployment_namespaces_and_seldon_pods_only(rendered) -> None:
    constraints = _one(rendered, "MutatingAdmissionPolicy")["spec"]["matchConstraints"]
    sdeps = [d for d in rendered.values() if d.get("kind") == "SeldonDeployment"]
    (expression,) = constraints["namespaceSelector"]["matchExpressions"]
    assert set(expression["values"]) == {d["metadata"]["namespace"] for d in sdeps}
    assert constraints["objectSelector"] == {
        "matchLabels": {"app.kubernetes.io/managed-by": "seldon-core"}
    }
    (rule,) = constraints["resourceRules"]
    assert (rule["resources"], rule["operations"]) == (["pods"], ["CREATE"])


def test_every_seldon_deployment_waits_for_the_policies(rendered) -> None:
    waits = rendered["pulumi/dependencies.yaml"]
    for name, document in rendered.items():
        if document.get("kind") == "SeldonDeployment":
            assert "mutatingadmissionpolicy-seldon-executor-hardening.yaml" in waits[name]
            assert "validatingadmissionpolicy-seldon-executor-hardening.yaml" in waits[name]

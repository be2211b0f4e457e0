"""The typed stack configuration: valid stacks parse, invalid ones fail naming file and key."""

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from infra.stack_config import (
    FLAT_SECTIONS,
    KEY_SECTION,
    OBJECT_KEYS,
    StackConfig,
    StackConfigError,
    load_stack_file,
    parse_stack_config,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
P = "mlops-platform:"


STACK_FILES = sorted(REPO_ROOT.glob("Pulumi.*.yaml"))
GUARDRAILS = {"maxShadowDisagreement": 0.05}
"""Every committed stack file."""


def values_of(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["config"]


def dev_values() -> dict:
    return values_of(REPO_ROOT / "Pulumi.dev.yaml")


def deployment(values: dict, index: int = 0) -> dict:
    return values[f"{P}deployments"][index]


def predictors(values: dict) -> list[dict]:
    return deployment(values)["predictors"]


def set_key(key: str, value) -> Callable[[dict], None]:
    return lambda values: values.__setitem__(f"{P}{key}", value)


def set_predictor(index: int, **fields) -> Callable[[dict], None]:
    return lambda values: predictors(values)[index].update(fields)


def drop_predictor_field(index: int, field: str) -> Callable[[dict], None]:
    return lambda values: predictors(values)[index].pop(field)


def replace_predictors(*entries: dict) -> Callable[[dict], None]:
    return lambda values: deployment(values).__setitem__("predictors", list(entries))


def set_deployment(index: int = 0, **fields) -> Callable[[dict], None]:
    return lambda values: deployment(values, index).update(fields)


def add_deployment(**fields) -> Callable[[dict], None]:
    entry = {"name": "wine", "predictors": [{"name": "champion", "model": "wine@champion"}]}
    return lambda values: values[f"{P}deployments"].append({**entry, **fields})


CHAMPION = {"name": "champion", "model": "iris/1", "traffic": 100}
SHADOW = {"name": "shadow", "model": "iris/2", "shadow": True}

INVALID = [
    (
        "traffic does not sum to 100",
        set_predictor(0, traffic=60),
        [
            "mlops-platform:deployments[0].predictors: non-shadow 'traffic' must sum to exactly",
            "got 110",
            "champion=60",
        ],
    ),
    (
        "single live predictor below 100",
        replace_predictors({**CHAMPION, "traffic": 80}, SHADOW),
        ["single non-shadow predictor takes all traffic", "'champion' has 80"],
    ),
    (
        "two shadows",
        replace_predictors(CHAMPION, SHADOW, {**SHADOW, "name": "shadow-2"}),
        ["at most one shadow predictor", "shadow, shadow-2"],
    ),
    (
        "shadow alone",
        replace_predictors(SHADOW),
        ["needs at least one non-shadow predictor"],
    ),
    (
        "duplicate predictor names",
        set_predictor(1, name="champion"),
        ["predictor names must be unique", "champion"],
    ),
    (
        "predictor name not a DNS label",
        set_predictor(0, name="Champion_A"),
        ["mlops-platform:deployments[0].predictors[0].name", "'Champion_A'"],
    ),
    (
        "namespace not a DNS label",
        set_deployment(namespace="Models!"),
        ["mlops-platform:deployments[0].namespace", "'Models!'"],
    ),
    (
        "mirrorPercent out of range",
        set_predictor(2, mirrorPercent=0),
        ["mlops-platform:deployments[0].predictors[2].mirrorPercent", "greater than or equal to 1"],
    ),
    (
        "shadow with traffic",
        set_predictor(2, traffic=10),
        ["mlops-platform:deployments[0].predictors[2]", "shadow predictor takes no 'traffic'"],
    ),
    (
        "mirrorPercent without shadow",
        set_predictor(0, mirrorPercent=50),
        [
            "mlops-platform:deployments[0].predictors[0]",
            "'mirrorPercent' is only valid with 'shadow",
        ],
    ),
    (
        "missing traffic with several live predictors",
        drop_predictor_field(1, "traffic"),
        ["each needs 'traffic'", "challenger"],
    ),
    (
        "bad model reference",
        set_predictor(0, model="iris:latest"),
        ["mlops-platform:deployments[0].predictors[0].model", "'iris:latest'"],
    ),
    (
        "replicas zero",
        set_predictor(0, replicas=0),
        ["mlops-platform:deployments[0].predictors[0].replicas", "greater than or equal to 1"],
    ),
    (
        "cpu quantity malformed",
        set_predictor(0, resources={"requests": {"cpu": "half", "memory": "256Mi"}}),
        ["mlops-platform:deployments[0].predictors[0].resources.requests.cpu", "'half'"],
    ),
    (
        "memory quantity malformed",
        set_predictor(0, resources={"limits": {"cpu": "1", "memory": "lots"}}),
        ["mlops-platform:deployments[0].predictors[0].resources.limits.memory", "'lots'"],
    ),
    (
        "unknown predictor field",
        set_predictor(0, weight=50),
        ["mlops-platform:deployments[0].predictors[0].weight", "Extra inputs are not permitted"],
    ),
    (
        "chart version range",
        set_key("istioVersion", "1.26.x"),
        ["mlops-platform:istioVersion", "'1.26.x'"],
    ),
    (
        "operator version not exact",
        set_key("seldonOperatorVersion", "latest"),
        ["mlops-platform:seldonOperatorVersion", "'latest'"],
    ),
    (
        "unknown top-level key",
        set_key("replicaCount", 3),
        ["mlops-platform:replicaCount: unknown key", "valid keys are", "istioVersion"],
    ),
    (
        "plaintext secret",
        set_key("registryPassword", "hunter2"),
        ["mlops-platform:registryPassword: is a secret", "pulumi config set --secret"],
    ),
    (
        "registry user without password",
        set_key("registryUsername", "ci-bot"),
        ["mlops-platform:registryPassword", "set both or neither"],
    ),
    (
        "S3 access key id without its secret",
        set_key("s3AccessKeyId", "AKIAEXAMPLE"),
        ["mlops-platform:s3SecretAccessKey", "set both 's3AccessKeyId' and the secret"],
    ),
    (
        "artifact store not a choice",
        set_key("artifactStore", "gcs"),
        ["mlops-platform:artifactStore", "'volume' or 's3'"],
    ),
    (
        "ingress service type not a choice",
        set_key("ingressServiceType", "Ingress"),
        ["mlops-platform:ingressServiceType", "'NodePort', 'LoadBalancer' or 'ClusterIP'"],
    ),
    (
        "prebuilt image not pinned by digest",
        set_key("imagePrebuiltRef", "ghcr.io/acme/server:latest"),
        ["mlops-platform:imagePrebuiltRef", "'ghcr.io/acme/server:latest'"],
    ),
    (
        "deployments missing",
        lambda v: v.pop(f"{P}deployments"),
        ["mlops-platform:deployments: is required", "- name: iris"],
    ),
    (
        "empty deployment list",
        set_key("deployments", []),
        ["mlops-platform:deployments: at least one deployment is required"],
    ),
    (
        "deployments not a list",
        set_key("deployments", {"name": "iris"}),
        ["mlops-platform:deployments: Input should be a valid list"],
    ),
    (
        "duplicate deployment in one namespace",
        add_deployment(name="iris"),
        ["mlops-platform:deployments: (namespace, name) must be unique", "seldon/iris"],
    ),
    *(
        (
            f"system namespace {namespace}",
            add_deployment(namespace=namespace),
            ["mlops-platform:deployments[1].namespace", f"{namespace!r} belongs to Kubernetes"],
        )
        for namespace in ("kube-system", "kube-public", "default")
    ),
    *(
        (
            f"platform namespace {namespace}",
            add_deployment(namespace=namespace),
            ["mlops-platform:deployments[1].namespace", f"{namespace!r} is a platform namespace"],
        )
        for namespace in ("istio-system", "seldon-system", "mlflow", "monitoring", "cert-manager")
    ),
    (
        "predictor error in the second deployment names its index",
        add_deployment(
            predictors=[
                {"name": "champion", "model": "wine@champion", "traffic": 60},
                {"name": "challenger", "model": "wine@challenger", "traffic": 140},
            ]
        ),
        ["mlops-platform:deployments[1].predictors[1].traffic", "less than or equal to 100"],
    ),
    (
        "old serving object",
        lambda v: v.update({f"{P}serving": {"deploymentName": "iris", "predictors": []}}),
        [
            "mlops-platform:serving: the single 'serving' object was replaced",
            "mlops-platform:deployments:",
            "- name: iris",
            "predictors:",
        ],
    ),
    (
        "deployment monitoring override invalid",
        set_deployment(monitoring={"errorRatioThreshold": 2}),
        ["mlops-platform:deployments[0].monitoring.errorRatioThreshold", "less than 1"],
    ),
    (
        "deployment monitoring override unknown",
        set_deployment(monitoring={"latencySlo": 1}),
        ["mlops-platform:deployments[0].monitoring.latencySlo", "Extra inputs"],
    ),
    (
        "training schedule with six fields",
        set_deployment(
            training={"schedule": "0 0 3 * * 0", "dataset": "mlflow-artifacts:/0/datasets/iris.csv"}
        ),
        ["mlops-platform:deployments[0].training.schedule", "expected 5 fields", "got 6"],
    ),
    (
        "training schedule hour out of range",
        set_deployment(
            training={"schedule": "0 25 * * *", "dataset": "mlflow-artifacts:/0/datasets/iris.csv"}
        ),
        ["mlops-platform:deployments[0].training.schedule", "'25' is outside 0-23"],
    ),
    (
        "training dataset without a scheme",
        set_deployment(training={"schedule": "0 3 * * 0", "dataset": "iris.csv"}),
        ["mlops-platform:deployments[0].training.dataset", "'iris.csv'"],
    ),
    (
        "rollout steps not increasing",
        set_deployment(
            rollout={"steps": [10, 10, 100], "minStepDuration": "10m", "guardrails": GUARDRAILS}
        ),
        ["mlops-platform:deployments[0].rollout.steps", "strictly increasing"],
    ),
    (
        "rollout not ending at 100",
        set_deployment(
            rollout={"steps": [10, 50], "minStepDuration": "10m", "guardrails": GUARDRAILS}
        ),
        ["mlops-platform:deployments[0].rollout.steps", "last step must be 100"],
    ),
    (
        "rollout step duration not a Prometheus duration",
        set_deployment(
            rollout={"steps": [100], "minStepDuration": "10 minutes", "guardrails": GUARDRAILS}
        ),
        ["mlops-platform:deployments[0].rollout.minStepDuration", "'10 minutes'"],
    ),
    (
        "rollout notWorse without margin",
        set_deployment(
            rollout={
                "steps": [100],
                "minStepDuration": "1h",
                "guardrails": GUARDRAILS,
                "promoteWhen": "notWorse",
            }
        ),
        ["mlops-platform:deployments[0].rollout", "'notWorse' needs a 'margin'"],
    ),
    (
        "rollout promote choice unknown",
        set_deployment(
            rollout={
                "steps": [100],
                "minStepDuration": "1h",
                "guardrails": GUARDRAILS,
                "promoteWhen": "always",
            }
        ),
        ["mlops-platform:deployments[0].rollout.promoteWhen", "'better' or 'notWorse'"],
    ),
    (
        "monitoring threshold negative",
        lambda v: v[f"{P}monitoring"].__setitem__("latencySloSeconds", -1),
        ["mlops-platform:monitoring.latencySloSeconds", "greater than 0"],
    ),
    (
        "feedback reward range empty",
        set_deployment(feedback={"rewardMin": 1, "rewardMax": 1}),
        ["mlops-platform:deployments[0].feedback", "rewardMin (1.0) must be below"],
    ),
    (
        "feedback reward bound infinite",
        set_deployment(feedback={"rewardMin": 0, "rewardMax": float("inf")}),
        ["mlops-platform:deployments[0].feedback.rewardMax", "finite number"],
    ),
    (
        "feedback reward bound a string",
        set_deployment(feedback={"rewardMin": "0", "rewardMax": 1}),
        ["mlops-platform:deployments[0].feedback.rewardMin", "valid number"],
    ),
    (
        "deployment and predictor names too long for Seldon",
        set_deployment(name="d" * 50),
        ["mlops-platform:deployments[0]: 'name' plus the longest predictor name", "max 63"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(mutate, expected, id=name) for name, mutate, expected in INVALID],
)
def test_invalid_config_is_refused_with_file_key_and_remedy(mutate, expected) -> None:
    values = copy.deepcopy(dev_values())
    mutate(values)
    with pytest.raises(StackConfigError) as error:
        parse_stack_config(values, source="Pulumi.broken.yaml")
    message = str(error.value)
    assert message.startswith("invalid stack configuration in Pulumi.broken.yaml:")
    for fragment in expected:
        assert fragment in message


def test_every_problem_is_reported_at_once() -> None:
    values = copy.deepcopy(dev_values())
    values[f"{P}replicaCount"] = 3
    values[f"{P}registryPassword"] = "hunter2"
    with pytest.raises(StackConfigError) as error:
        parse_stack_config(values, source="Pulumi.broken.yaml")
    assert "replicaCount" in str(error.value) and "registryPassword" in str(error.value)


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda path: path.name)
def test_committed_stacks_are_valid(path: Path) -> None:
    config = load_stack_file(path)
    assert isinstance(config, StackConfig)
    assert config.deployments


def test_the_three_stacks_share_structure_and_differ_in_values() -> None:
    assert [path.name for path in STACK_FILES] == [
        "Pulumi.dev.yaml",
        "Pulumi.local.yaml",
        "Pulumi.prod.yaml",
    ]
    keys = {path.name: values_of(path).keys() for path in STACK_FILES}
    assert len({frozenset(k) for k in keys.values()}) == 1, keys
    local, dev, prod = (
        load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml") for stack in ("local", "dev", "prod")
    )
    assert local.cluster.create_kind_cluster and local.image.image_registry.startswith("localhost")
    for shared in (dev, prod):
        assert not shared.cluster.create_kind_cluster and shared.cluster.kubeconfig_context
        assert not shared.image.image_registry.startswith("localhost")
        assert shared.cluster.persistent_storage
    for stack in (local, dev):
        (iris,) = stack.deployments
        assert [p.weight for p in iris.predictors] == [50, 50, 100]
        assert all(p.replicas == 1 for p in iris.predictors)
    iris, wine = prod.deployments
    assert [p.weight for p in iris.predictors] == [90, 10, 25]
    assert [p.shadow for p in iris.predictors] == [False, False, True]
    assert all(p.replicas >= 2 for p in iris.predictors)
    assert [(p.model, p.weight) for p in wine.predictors] == [("wine@champion", 100)]


THREE_DEPLOYMENTS = [
    {
        "name": "iris",
        "predictors": [
            {"name": "champion", "model": "iris@champion", "traffic": 80},
            {"name": "challenger", "model": "iris/7", "traffic": 20},
        ],
        "monitoring": {"latencySloSeconds": 0.1},
        "rollout": {"steps": [10, 50, 100], "minStepDuration": "10m", "guardrails": GUARDRAILS},
    },
    {
        "name": "wine",
        "namespace": "models",
        "workers": 1,
        "resources": {"requests": {"cpu": "100m", "memory": "512Mi"},
                      "limits": {"cpu": "1", "memory": "1Gi"}},
        "predictors": [{"name": "champion", "model": "wine@champion", "traffic": 90},
                       {"name": "challenger", "model": "wine@challenger", "traffic": 10}],
        "training": {"schedule": "0 3 * * 0", "dataset": "mlflow-artifacts:/0/datasets/wine.csv"},
        "rollout": {"steps": [25, 100], "minStepDuration": "1h", "guardrails": GUARDRAILS,
                    "promoteWhen": "notWorse", "margin": 0.02},
    },
    {
        "name": "iris",
        "namespace": "models",
        "predictors": [{"name": "champion", "model": "iris@champion", "traffic": 100}],
    },
]  # fmt: skip
"""Three deployments in two namespaces, one name used twice and predictor names overlapping."""


def test_a_deployment_list_parses_with_defaults_and_overrides() -> None:
    values = dev_values()
    values[f"{P}deployments"] = THREE_DEPLOYMENTS
    values[f"{P}servingNamespaces"] = ["seldon", "models"]
    config = parse_stack_config(values, source="Pulumi.three.yaml")
    assert [d.key for d in config.deployments] == ["seldon/iris", "models/wine", "models/iris"]
    assert config.deployment_namespaces == ["seldon", "models"]
    iris, wine, _ = config.deployments
    assert iris.monitoring.latency_slo_seconds == 0.1
    assert iris.monitoring.rate_window == config.monitoring.rate_window == "1m"
    assert wine.monitoring == config.monitoring
    assert iris.predictors[0].registered_model == "iris" and iris.predictors[0].alias == "champion"
    assert iris.predictors[1].version == "7" and iris.predictors[1].alias is None
    assert wine.resources_of(wine.predictors[0]).limits.memory == "1Gi"
    assert iris.resources_of(iris.predictors[0]) == iris.resources
    assert wine.training.schedule == "0 3 * * 0" and wine.training.suspend is False
    assert (wine.rollout.promote_when, wine.rollout.margin) == ("notWorse", 0.02)
    assert (iris.rollout.promote_when, iris.rollout.margin) == ("better", None)


def test_deployments_arrive_json_encoded_from_the_engine() -> None:
    values = dev_values()
    values[f"{P}deployments"] = json.dumps(THREE_DEPLOYMENTS)
    values[f"{P}servingNamespaces"] = '["seldon", "models"]'
    values[f"{P}monitoring"] = json.dumps(values[f"{P}monitoring"])
    config = parse_stack_config(values, source="Pulumi.three.yaml")
    assert len(config.deployments) == 3
    assert config.deployments[0].monitoring.latency_slo_seconds == 0.1


def test_secure_secret_is_accepted(tmp_path: Path) -> None:
    values = dev_values()
    values[f"{P}registryUsername"] = "ci-bot"
    values[f"{P}registryPassword"] = {"secure": "v1:abc:def"}
    stack = tmp_path / "Pulumi.ci.yaml"
    stack.write_text(yaml.safe_dump({"config": values}))
    config = load_stack_file(stack)
    assert config.image.registry_password is not None
    assert "v1:abc" not in repr(config)


def test_unreadable_stack_file_names_the_file(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.empty.yaml"
    stack.write_text("encryptionsalt: abc\n")
    with pytest.raises(
        StackConfigError, match=r"Pulumi.empty.yaml: expected a top-level 'config:'"
    ):
        load_stack_file(stack)


PULUMI_TYPES = {bool: "boolean", int: "integer", list[str]: "array"}


def test_project_file_declares_every_scalar_key_with_the_model_default() -> None:
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    declared = project["config"]
    assert project["name"] == "mlops-platform"
    assert project["main"] == "stacks/"
    assert set(declared) == set(KEY_SECTION), "Pulumi.yaml and the config classes disagree"
    for section in FLAT_SECTIONS.values():
        for field in section.model_fields.values():
            declaration = declared[field.alias]
            assert declaration["description"], field.alias
            assert declaration["type"] == PULUMI_TYPES.get(field.annotation, "string"), field.alias
            default = "" if field.default is None else field.default
            assert declaration["default"] == default, field.alias
    assert not set(OBJECT_KEYS) & set(declared)


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda path: path.name)
def test_every_committed_shadow_screens_the_candidate(stack_file: Path) -> None:
    values = yaml.safe_load(stack_file.read_text())["config"]
    config = parse_stack_config(values, source=stack_file.name)
    shadows = [(d.name, p) for d in config.deployments for p in d.predictors if p.shadow]
    assert shadows, f"{stack_file.name} declares no shadow"
    for name, shadow in shadows:
        live = [p.model for d in config.deployments if d.name == name for p in d.predictors
                if not p.shadow]  # fmt: skip
        assert shadow.alias == "candidate" and shadow.model not in live, (name, shadow.model)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_dev_and_prod_declare_a_guarded_rollout_plan(stack: str) -> None:
    values = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    config = parse_stack_config(values, source=f"Pulumi.{stack}.yaml")
    iris = next(d for d in config.deployments if d.name == "iris")
    challenger = next(p for p in iris.predictors if p.name == "challenger")
    assert iris.rollout is not None and iris.rollout.steps[-1] == 100
    assert challenger.traffic in iris.rollout.steps, "the committed split is a step of the plan"
    assert 0 < iris.rollout.guardrails.max_shadow_disagreement < 1

"""The typed stack configuration: valid stacks parse, invalid ones fail naming file and key."""

import copy
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


def dev_values() -> dict:
    return yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())["config"]


def predictors(values: dict) -> list[dict]:
    return values[f"{P}serving"]["predictors"]


def set_key(key: str, value) -> Callable[[dict], None]:
    return lambda values: values.__setitem__(f"{P}{key}", value)


def set_predictor(index: int, **fields) -> Callable[[dict], None]:
    return lambda values: predictors(values)[index].update(fields)


def drop_predictor_field(index: int, field: str) -> Callable[[dict], None]:
    return lambda values: predictors(values)[index].pop(field)


def replace_predictors(*entries: dict) -> Callable[[dict], None]:
    return lambda values: values[f"{P}serving"].__setitem__("predictors", list(entries))


CHAMPION = {"name": "champion", "model": "iris/1", "traffic": 100}
SHADOW = {"name": "shadow", "model": "iris/2", "shadow": True}

INVALID = [
    (
        "traffic does not sum to 100",
        set_predictor(0, traffic=60),
        [
            "mlops-platform:serving.predictors: non-shadow 'traffic' must sum to exactly 100",
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
        ["mlops-platform:serving.predictors[0].name", "'Champion_A'"],
    ),
    (
        "namespace not a DNS label",
        lambda v: v[f"{P}serving"].__setitem__("namespace", "Models!"),
        ["mlops-platform:serving.namespace", "'Models!'"],
    ),
    (
        "mirrorPercent out of range",
        set_predictor(2, mirrorPercent=0),
        ["mlops-platform:serving.predictors[2].mirrorPercent", "greater than or equal to 1"],
    ),
    (
        "shadow with traffic",
        set_predictor(2, traffic=10),
        ["mlops-platform:serving.predictors[2]", "shadow predictor takes no 'traffic'"],
    ),
    (
        "mirrorPercent without shadow",
        set_predictor(0, mirrorPercent=50),
        ["mlops-platform:serving.predictors[0]", "'mirrorPercent' is only valid with 'shadow"],
    ),
    (
        "missing traffic with several live predictors",
        drop_predictor_field(1, "traffic"),
        ["each needs 'traffic'", "challenger"],
    ),
    (
        "bad model reference",
        set_predictor(0, model="iris:latest"),
        ["mlops-platform:serving.predictors[0].model", "'iris:latest'"],
    ),
    (
        "replicas zero",
        set_predictor(0, replicas=0),
        ["mlops-platform:serving.predictors[0].replicas", "greater than or equal to 1"],
    ),
    (
        "cpu quantity malformed",
        set_predictor(0, resources={"requests": {"cpu": "half", "memory": "256Mi"}}),
        ["mlops-platform:serving.predictors[0].resources.requests.cpu", "'half'"],
    ),
    (
        "memory quantity malformed",
        set_predictor(0, resources={"limits": {"cpu": "1", "memory": "lots"}}),
        ["mlops-platform:serving.predictors[0].resources.limits.memory", "'lots'"],
    ),
    (
        "unknown predictor field",
        set_predictor(0, weight=50),
        ["mlops-platform:serving.predictors[0].weight", "Extra inputs are not permitted"],
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
        "serving missing",
        lambda v: v.pop(f"{P}serving"),
        ["mlops-platform:serving: is required"],
    ),
    (
        "monitoring threshold negative",
        lambda v: v[f"{P}monitoring"].__setitem__("latencySloSeconds", -1),
        ["mlops-platform:monitoring.latencySloSeconds", "greater than 0"],
    ),
    (
        "deployment and predictor names too long for Seldon",
        lambda v: v[f"{P}serving"].__setitem__("deploymentName", "d" * 50),
        ["'deploymentName' plus the longest predictor name", "max 63"],
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


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_committed_stacks_are_valid(stack: str) -> None:
    config = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml")
    assert isinstance(config, StackConfig)


def test_dev_and_prod_share_structure_and_differ_in_values() -> None:
    dev = dev_values()
    prod = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"]
    assert dev.keys() == prod.keys()
    dev_config = load_stack_file(REPO_ROOT / "Pulumi.dev.yaml")
    prod_config = load_stack_file(REPO_ROOT / "Pulumi.prod.yaml")
    assert [p.weight for p in dev_config.serving.predictors] == [50, 50, 100]
    assert [p.weight for p in prod_config.serving.predictors] == [90, 10, 25]
    assert all(p.replicas == 1 for p in dev_config.serving.predictors)
    assert all(p.replicas >= 2 for p in prod_config.serving.predictors)
    assert prod_config.cluster.persistent_storage and not dev_config.cluster.persistent_storage
    assert dev_config.cluster.create_kind_cluster and not prod_config.cluster.create_kind_cluster


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


PULUMI_TYPES = {bool: "boolean", int: "integer"}


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

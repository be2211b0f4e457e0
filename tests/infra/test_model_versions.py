"""Deploy-time model versions: the real program under Pulumi's mocks resolves every alias against
a real `mlflow server --app-name platform-auth`, as the read-only reader user, and declares the
concrete version and its digest."""

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import yaml
from mlflow import MlflowClient

from infra.deployments import versions as model_versions
from infra.deployments.config import DeploymentConfig
from infra.deployments.versions import (
    SKIP_DEPLOYMENTS_ENV,
    ModelRegistry,
    RegistryError,
    deploy_time_versions,
    resolve_versions,
)
from stacks.mock_runtime import Declared
from stacks.render import render_stack
from tests.stacks.test_render import render
from tests.support.mlflow_server import TRAIN_TIMEOUT_S, isolated_env
from tests.support.stacks import REPO_ROOT

SDEP = "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment"


def digest_of(name: str, version: str) -> str:
    """A well-formed stand-in for the `model_digest` that `model/` computes at registration."""
    return "sha256:" + hashlib.sha256(f"{name}/{version}".encode()).hexdigest()


def register(client: MlflowClient, name: str, versions: int, *, digest: bool = True) -> None:
    """`versions` versions of `name`, each tagged with its digest (the registry alone is under
    test; the program never downloads them)."""
    client.create_registered_model(name)
    for number in range(1, versions + 1):
        tags = {"model_digest": digest_of(name, str(number))} if digest else {}
        client.create_model_version(name, f"s3://models/{name}/{number}", tags=tags)


SERVED = ("ab", "pinned", "nodigest", "promoted", "never-trained")
"""The models these tests' deployments serve."""


@pytest.fixture(scope="module")
def registry(mlflow_server) -> str:
    """The real server with `ab` (champion 1, challenger 2), `pinned` (1 version), `nodigest`
    (1 version without its tag), `promoted` (champion 1, 2 versions) and `never-trained` (no
    version), registered by the pipeline user and readable by the reader user."""
    with mock.patch.dict(os.environ, mlflow_server.pipeline_env):
        client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
        register(client, "ab", 2)
        client.set_registered_model_alias("ab", "champion", "1")
        client.set_registered_model_alias("ab", "challenger", "2")
        client.set_registered_model_alias("ab", "candidate", "2")
        register(client, "pinned", 1)
        register(client, "nodigest", 1, digest=False)
        client.set_registered_model_alias("nodigest", "champion", "1")
        register(client, "promoted", 2)
        client.set_registered_model_alias("promoted", "champion", "1")
        register(client, "never-trained", 0)
        register(client, "unserved", 1)
        client.set_registered_model_alias("unserved", "champion", "1")
    mlflow_server.serve(*SERVED)
    return mlflow_server


@pytest.fixture(autouse=True)
def as_serving_user(request, monkeypatch) -> None:
    """The deploy reads the registry with the reader user's login, from the environment."""
    if "registry" in request.fixturenames:
        server = request.getfixturevalue("registry")
        for key, value in server.reader_env.items():
            monkeypatch.setenv(key, value)


def stack_file(tmp_path: Path, deployments: list[dict]) -> Path:
    """The dev stack serving `deployments` instead of its own."""
    values = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    values["mlops-platform:deployments"] = deployments
    values["mlops-platform:servingNamespaces"] = sorted(
        {d.get("namespace", "seldon") for d in deployments}
    )
    path = tmp_path / "Pulumi.versions.yaml"
    path.write_text(yaml.safe_dump({"config": values}))
    return path


AB = {
    "name": "ab",
    "predictors": [
        {"name": "champion", "model": "ab@champion", "traffic": 90},
        {"name": "challenger", "model": "ab@challenger", "traffic": 10},
        # A shadow screens the candidate (stack validation refuses the challenger's alias).
        {"name": "shadow", "model": "ab@candidate", "shadow": True},
    ],
}


def predictors(declared: Declared, name: str) -> dict[str, dict]:
    (resource,) = [r for r in declared.of_type(SDEP) if r.inputs["metadata"]["name"] == name]
    return {p["name"]: p for p in resource.inputs["spec"]["predictors"]}


def env_of(predictor: dict) -> dict[str, str]:
    container = predictor["componentSpecs"][0]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_champion_and_challenger_are_declared_at_their_versions(registry, tmp_path) -> None:
    declared = render_stack("versions", stack_file(tmp_path, [AB]), registry)
    served = predictors(declared, "ab")
    for name, version in (("champion", "1"), ("challenger", "2"), ("shadow", "2")):
        env = env_of(served[name])
        assert env["MODEL_URI"] == f"models:/ab/{version}", name
        assert env["MODEL_DIGEST"] == digest_of("ab", version), name
        assert served[name]["labels"]["version"] == version
        assert served[name]["annotations"]["version"] == version
    (output,) = declared.outputs["deployments"]
    assert [(p["name"], p["version"], p["modelUri"]) for p in output["predictors"]] == [
        ("champion", "1", "models:/ab/1"),
        ("challenger", "2", "models:/ab/2"),
        ("shadow", "2", "models:/ab/2"),
    ]
    assert declared.outputs["pendingDeployments"] == {}


def test_a_promotion_shows_as_a_version_change(registry, tmp_path) -> None:
    deployment = {
        "name": "promoted",
        "predictors": [{"name": "main", "model": "promoted@champion"}],
    }
    path = stack_file(tmp_path, [deployment])
    before = env_of(predictors(render_stack("versions", path, registry), "promoted")["main"])
    with mock.patch.dict(os.environ, registry.pipeline_env):
        client = MlflowClient(tracking_uri=registry.url, registry_uri=registry.url)
        client.set_registered_model_alias("promoted", "champion", "2")
    after = env_of(predictors(render_stack("versions", path, registry), "promoted")["main"])
    assert (before["MODEL_URI"], after["MODEL_URI"]) == ("models:/promoted/1", "models:/promoted/2")
    assert after["MODEL_DIGEST"] == digest_of("promoted", "2") != before["MODEL_DIGEST"]


def test_a_pinned_version_is_looked_up_for_its_digest(registry, tmp_path) -> None:
    deployment = {"name": "pinned", "predictors": [{"name": "main", "model": "pinned/1"}]}
    declared = render_stack("versions", stack_file(tmp_path, [deployment]), registry)
    env = env_of(predictors(declared, "pinned")["main"])
    assert (env["MODEL_URI"], env["MODEL_DIGEST"]) == ("models:/pinned/1", digest_of("pinned", "1"))


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("ab@stable", ["alias 'stable' of model 'ab' does not exist", "champion -> 1"]),
        ("pinned/9", ["version 9 of model 'pinned' does not exist"]),
        ("nodigest@champion", ["version 1 of model 'nodigest'", "has no 'model_digest' tag"]),
    ],
)
def test_what_the_registry_cannot_vouch_for_is_refused(registry, tmp_path, model, expected):
    deployment = {
        "name": "broken",
        "namespace": "models",
        "predictors": [
            {"name": "champion", "model": "ab@champion", "traffic": 50},
            {"name": "challenger", "model": model, "traffic": 50},
        ],
    }
    with pytest.raises(RegistryError) as error:
        render_stack("versions", stack_file(tmp_path, [deployment]), registry)
    message = str(error.value)
    assert f"deployment models/broken, predictor 'challenger' ({model})" in message
    assert registry in message
    for fragment in expected:
        assert fragment in message


def test_a_model_the_serving_user_may_not_read_is_refused(
    registry, tmp_path, monkeypatch
) -> None:
    """A login without READ on the model (here the serving user's, which reads only the served
    models) gets MLflow's 403 as an error naming the login to check."""
    for key, value in registry.serving_env.items():
        monkeypatch.setenv(key, value)
    deployment = {
        "name": "unserved",
        "predictors": [{"name": "main", "model": "unserved@champion"}],
    }
    with pytest.raises(RegistryError) as error:
        render_stack("versions", stack_file(tmp_path, [deployment]), registry)
    message = str(error.value)
    assert f"model registry {registry} refused the request (HTTP 403)" in message
    assert "MLFLOW_TRACKING_USERNAME" in message


def test_a_registered_model_without_versions_leaves_its_deployment_pending(
    registry, tmp_path
) -> None:
    unregistered = {
        "name": "wine",
        "predictors": [{"name": "main", "model": "never-trained@champion"}],
    }
    declared = render_stack("versions", stack_file(tmp_path, [AB, unregistered]), registry)
    assert [r.inputs["metadata"]["name"] for r in declared.of_type(SDEP)] == ["ab"]
    monitored = {
        r.inputs["metadata"]["name"]
        for r in declared.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
        if r.inputs["metadata"]["namespace"] != "mlflow"  # the registry database's
    }
    assert monitored == {"ab-seldon-pods"}
    assert [d["name"] for d in declared.outputs["deployments"]] == ["ab"]
    waiting = declared.outputs["pendingDeployments"]["seldon/wine"]
    assert "no version of 'never-trained'" in waiting
    assert (
        f"`python -m model train --model-name never-trained --tracking-uri {registry}`" in waiting
    )
    assert "`python -m model promote --model-name never-trained" in waiting
    assert "then `pulumi up` again" in waiting


TYPO = {"name": "iris", "predictors": [{"name": "champion", "model": "irs@champion"}]}


@pytest.mark.parametrize("role", ["reader", "admin"])
def test_a_model_the_registry_does_not_know_fails_naming_the_registered_ones(
    registry, tmp_path, monkeypatch, role
) -> None:
    """A typo is an error, never a pending deployment: as the reader user (the deploy's login)
    and as the admin."""
    for key, value in registry.env_for(role).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(RegistryError) as error:
        render_stack("versions", stack_file(tmp_path, [AB, TYPO]), registry)
    message = str(error.value)
    assert "deployment seldon/iris, predictor 'champion' (irs@champion)" in message
    assert f"registered model 'irs' does not exist in {registry}" in message
    for served in ("'ab'", "'never-trained'", "'pinned'"):
        assert served in message
    assert "Fix the model name in the stack file" in message


def test_render_of_a_model_typo_exits_2_and_writes_nothing(registry, tmp_path) -> None:
    out = tmp_path / "out"
    result = render("--stack", "versions", "--config-file", str(stack_file(tmp_path, [TYPO])),
                        "--tracking-uri", registry, "--out", str(out))  # fmt: skip
    assert result.returncode == 2
    assert "registered model 'irs' does not exist" in result.stderr
    assert "'ab'" in result.stderr
    assert not out.exists()


def closed_port_uri() -> str:
    """A localhost URI where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_an_unreachable_registry_fails_naming_its_uri(monkeypatch) -> None:
    monkeypatch.setattr(model_versions, "REGISTRY_DEADLINE_S", 2.0)
    uri = closed_port_uri()
    deployment = DeploymentConfig.model_validate(AB)
    with pytest.raises(RegistryError) as error:
        resolve_versions([deployment], ModelRegistry(uri))
    message = str(error.value)
    assert f"model registry {uri} is unreachable (ConnectionError" in message
    assert f"{SKIP_DEPLOYMENTS_ENV}=1 pulumi up" in message


def test_a_registry_that_never_answers_fails_naming_its_uri(monkeypatch) -> None:
    """A listener that accepts connections and sends nothing: each request's timeout is cut to
    what is left of the deadline, so the resolution gives up instead of hanging."""
    monkeypatch.setattr(model_versions, "REGISTRY_DEADLINE_S", 2.0)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(RegistryError) as error:
            resolve_versions([DeploymentConfig.model_validate(AB)], ModelRegistry(uri))
    assert f"model registry {uri} is unreachable (ReadTimeout" in str(error.value)


def test_first_up_without_registry_declares_no_deployment(monkeypatch) -> None:
    """The bootstrap switch never calls the registry: a closed port does not fail it."""
    monkeypatch.setenv(SKIP_DEPLOYMENTS_ENV, "1")
    uri = closed_port_uri()
    resolution = deploy_time_versions([DeploymentConfig.model_validate(AB)], uri)
    assert resolution.versions == {}
    assert f"Once MLflow answers at {uri}" in resolution.pending["seldon/ab"]


def test_render_resolves_with_tracking_uri_and_repeats_exactly(registry, tmp_path) -> None:
    path = stack_file(tmp_path, [AB])
    outs = [tmp_path / "first", tmp_path / "second"]
    for out in outs:
        result = render("--stack", "versions", "--config-file", str(path),
                            "--tracking-uri", registry, "--out", str(out))  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "no --tracking-uri" not in result.stderr
    texts = [{p.name: p.read_text() for p in out.rglob("*.yaml")} for out in outs]
    assert texts[0] == texts[1]
    document = yaml.safe_load(texts[0]["seldondeployment-seldon-ab.yaml"])
    assert [p["labels"]["version"] for p in document["spec"]["predictors"]] == ["1", "2", "2"]


def test_render_without_tracking_uri_keeps_aliases_and_says_so(tmp_path) -> None:
    out = tmp_path / "out"
    result = render("--stack", "versions", "--config-file", str(stack_file(tmp_path, [AB])),
                        "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "note: no --tracking-uri, so predictors keep their aliases" in result.stderr
    document = yaml.safe_load((out / "seldondeployment-seldon-ab.yaml").read_text())
    env = env_of(document["spec"]["predictors"][0])
    assert env["MODEL_URI"] == "models:/ab@champion" and "MODEL_DIGEST" not in env


def test_render_of_an_unknown_alias_exits_2_and_writes_nothing(registry, tmp_path) -> None:
    broken = {"name": "ab", "predictors": [{"name": "main", "model": "ab@stable"}]}
    out = tmp_path / "out"
    result = render("--stack", "versions", "--config-file", str(stack_file(tmp_path, [broken])),
                        "--tracking-uri", registry, "--out", str(out))  # fmt: skip
    assert result.returncode == 2
    assert "alias 'stable' of model 'ab' does not exist" in result.stderr
    assert not out.exists()


def test_a_model_trained_and_promoted_by_model_is_declared_with_its_own_digest(
    registry, tmp_path
) -> None:
    """`python -m model train` / `promote` as the pipeline user, then the render as the serving
    user: champion is `models:/<name>/<that version>` with the version's own `model_digest`."""
    name = "declared-iris"
    env = isolated_env(**registry.pipeline_env)
    for command in (
        ["train", "--spec", "iris", "--json"],
        ["promote", "--reason", "first champion", "--json"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "model", *command, "--model-name", name,
             "--tracking-uri", registry.url],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TRAIN_TIMEOUT_S,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    registry.serve(name)
    with mock.patch.dict(os.environ, registry.pipeline_env):
        client = MlflowClient(tracking_uri=registry.url, registry_uri=registry.url)
        champion = client.get_model_version_by_alias(name, "champion")
    deployment = {"name": "declared", "predictors": [{"name": "main", "model": f"{name}@champion"}]}
    declared = render_stack("versions", stack_file(tmp_path, [deployment]), registry)
    env_declared = env_of(predictors(declared, "declared")["main"])
    assert env_declared["MODEL_URI"] == f"models:/{name}/{champion.version}"
    assert env_declared["MODEL_DIGEST"] == champion.tags["model_digest"]

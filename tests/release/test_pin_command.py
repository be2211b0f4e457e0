"""`python -m release pin`: every predictor's alias resolved against a real
`mlflow server --app-name platform-auth`, as the read-only reader user, into the pin file
beside the stack file; the render then declares exactly those versions and digests."""

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

from release import registry as registry_module
from release.__main__ import main as release_main
from release.pinning import pinned_lock
from release.pins import pin_file_for, read_pins
from release.registry import ModelRegistry, RegistryError
from stacks.mock_runtime import Declared
from stacks.render import render_stack
from tests.support.mlflow_server import TRAIN_TIMEOUT_S, isolated_env
from tests.support.stacks import REPO_ROOT

SDEP = "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment"


def digest_of(name: str, version: str) -> str:
    """A well-formed stand-in for the `model_digest` that `model/` computes at registration."""
    return "sha256:" + hashlib.sha256(f"{name}/{version}".encode()).hexdigest()


def register(client: MlflowClient, name: str, versions: int, *, digest: bool = True) -> None:
    """`versions` versions of `name`, each tagged with its digest (the registry alone is under
    test; nothing downloads them)."""
    client.create_registered_model(name)
    for number in range(1, versions + 1):
        tags = {"model_digest": digest_of(name, str(number))} if digest else {}
        client.create_model_version(name, f"s3://models/{name}/{number}", tags=tags)


SERVED = ("ab", "pinned", "nodigest", "promoted", "never-trained")
"""The models these tests' deployments serve."""


@pytest.fixture(scope="module")
def registry(mlflow_server) -> str:
    """The real server with `ab` (champion 1, challenger 2, candidate 3), `pinned` (1 version),
    `nodigest` (1 version without its tag), `promoted` (champion 1, 2 versions) and
    `never-trained` (no version), registered by the pipeline user and readable by the reader
    user."""
    with mock.patch.dict(os.environ, mlflow_server.pipeline_env):
        client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
        register(client, "ab", 3)
        client.set_registered_model_alias("ab", "champion", "1")
        client.set_registered_model_alias("ab", "challenger", "2")
        client.set_registered_model_alias("ab", "candidate", "3")
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
def as_reader_user(request, monkeypatch) -> None:
    """The pin command reads the registry with the reader user's login, from the environment."""
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


def pin(path: Path, uri: str) -> None:
    """`python -m release pin` on `path`, failing the test with its message."""
    assert release_main(["pin", "--stack", "versions", "--stack-file", str(path),
                         "--tracking-uri", uri]) == 0  # fmt: skip


AB = {
    "name": "ab",
    "predictors": [
        {"name": "champion", "model": "ab@champion", "traffic": 90},
        {"name": "challenger", "model": "ab@challenger", "traffic": 10},
        {"name": "shadow", "model": "ab@candidate", "shadow": True},
    ],
}


def predictors(declared: Declared, name: str) -> dict[str, dict]:
    (resource,) = [r for r in declared.of_type(SDEP) if r.inputs["metadata"]["name"] == name]
    return {p["name"]: p for p in resource.inputs["spec"]["predictors"]}


def env_of(predictor: dict) -> dict[str, str]:
    container = predictor["componentSpecs"][0]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_champion_and_challenger_are_pinned_and_declared_at_their_versions(registry, tmp_path):
    path = stack_file(tmp_path, [AB])
    pin(path, registry)
    lock = read_pins(pin_file_for(path))
    assert lock.merge == "auto" and lock.stack == "versions"
    champion = lock.pin("seldon/ab", "champion")
    assert (champion.version, champion.alias, champion.registry) == ("1", "champion", registry)
    declared = render_stack("versions", path)
    served = predictors(declared, "ab")
    for name, version in (("champion", "1"), ("challenger", "2"), ("shadow", "3")):
        env = env_of(served[name])
        assert env["MODEL_URI"] == f"models:/ab/{version}", name
        assert env["MODEL_DIGEST"] == digest_of("ab", version), name
        assert served[name]["labels"]["version"] == version
    assert declared.outputs["pendingDeployments"] == {}


def test_an_alias_move_changes_nothing_served_until_pinned_again(registry, tmp_path) -> None:
    deployment = {
        "name": "promoted",
        "predictors": [{"name": "main", "model": "promoted@champion"}],
    }
    path = stack_file(tmp_path, [deployment])
    pin(path, registry)
    before = env_of(predictors(render_stack("versions", path), "promoted")["main"])
    with mock.patch.dict(os.environ, registry.pipeline_env):
        client = MlflowClient(tracking_uri=registry.url, registry_uri=registry.url)
        client.set_registered_model_alias("promoted", "champion", "2")
    unchanged = env_of(predictors(render_stack("versions", path), "promoted")["main"])
    assert unchanged == before
    assert release_main(["pin", "--check", "--stack", "versions", "--stack-file", str(path),
                         "--tracking-uri", registry]) == 1  # fmt: skip
    pin(path, registry)
    after = env_of(predictors(render_stack("versions", path), "promoted")["main"])
    assert (before["MODEL_URI"], after["MODEL_URI"]) == ("models:/promoted/1", "models:/promoted/2")
    assert after["MODEL_DIGEST"] == digest_of("promoted", "2") != before["MODEL_DIGEST"]


def test_a_version_reference_is_pinned_with_its_digest(registry, tmp_path) -> None:
    deployment = {"name": "pinned", "predictors": [{"name": "main", "model": "pinned/1"}]}
    path = stack_file(tmp_path, [deployment])
    pin(path, registry)
    pinned = read_pins(pin_file_for(path)).pin("seldon/pinned", "main")
    assert (pinned.version, pinned.alias, pinned.digest) == ("1", None, digest_of("pinned", "1"))


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
    path = stack_file(tmp_path, [deployment])
    with pytest.raises(RegistryError) as error:
        pinned_lock(path, ModelRegistry.from_environment(registry))
    message = str(error.value)
    assert f"deployment models/broken, predictor 'challenger' ({model})" in message
    assert registry in message
    for fragment in expected:
        assert fragment in message
    assert not pin_file_for(path).exists()


def test_a_model_the_serving_user_may_not_read_is_refused(registry, tmp_path, monkeypatch) -> None:
    """A login without READ on the model (here the serving user's, which reads only the served
    models) gets MLflow's 403 as an error naming the login to check."""
    for key, value in registry.serving_env.items():
        monkeypatch.setenv(key, value)
    deployment = {
        "name": "unserved",
        "predictors": [{"name": "main", "model": "unserved@champion"}],
    }
    with pytest.raises(RegistryError) as error:
        pinned_lock(stack_file(tmp_path, [deployment]), ModelRegistry.from_environment(registry))
    message = str(error.value)
    assert f"model registry {registry} refused the request (HTTP 403)" in message
    assert "MLFLOW_TRACKING_USERNAME" in message


def test_a_registered_model_without_versions_leaves_its_deployment_pending(registry, tmp_path):
    unregistered = {
        "name": "wine",
        "predictors": [{"name": "main", "model": "never-trained@champion"}],
    }
    path = stack_file(tmp_path, [AB, unregistered])
    pin(path, registry)
    declared = render_stack("versions", path)
    assert [r.inputs["metadata"]["name"] for r in declared.of_type(SDEP)] == ["ab"]
    assert [d["name"] for d in declared.outputs["deployments"]] == ["ab"]
    waiting = declared.outputs["pendingDeployments"]["seldon/wine"]
    assert "no version of 'never-trained'" in waiting
    assert (
        f"`python -m model train --model-name never-trained --tracking-uri {registry}`" in waiting
    )
    assert f"`python -m release pin --stack versions --tracking-uri {registry}`" in waiting


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
        pinned_lock(stack_file(tmp_path, [AB, TYPO]), ModelRegistry.from_environment(registry))
    message = str(error.value)
    assert "deployment seldon/iris, predictor 'champion' (irs@champion)" in message
    assert f"registered model 'irs' does not exist in {registry}" in message
    for served in ("'ab'", "'never-trained'", "'pinned'"):
        assert served in message
    assert "Fix the model name in the stack file" in message


def test_the_pin_command_of_a_typo_exits_1_and_writes_nothing(registry, tmp_path, capsys):
    path = stack_file(tmp_path, [TYPO])
    code = release_main(["pin", "--stack", "versions", "--stack-file", str(path),
                         "--tracking-uri", registry])  # fmt: skip
    assert code == 1
    assert "registered model 'irs' does not exist" in capsys.readouterr().err
    assert not pin_file_for(path).exists()


def closed_port_uri() -> str:
    """A localhost URI where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_an_unreachable_registry_fails_naming_its_uri(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(registry_module, "REGISTRY_DEADLINE_S", 2.0)
    uri = closed_port_uri()
    with pytest.raises(RegistryError) as error:
        pinned_lock(stack_file(tmp_path, [AB]), ModelRegistry(uri))
    message = str(error.value)
    assert f"model registry {uri} is unreachable (ConnectionError" in message
    assert "the committed pins stay as they are" in message


def test_a_registry_that_never_answers_fails_naming_its_uri(monkeypatch, tmp_path) -> None:
    """A listener that accepts connections and sends nothing: each request's timeout is cut to
    what is left of the deadline, so the pin gives up instead of hanging."""
    monkeypatch.setattr(registry_module, "REGISTRY_DEADLINE_S", 2.0)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(RegistryError) as error:
            pinned_lock(stack_file(tmp_path, [AB]), ModelRegistry(uri))
    assert f"model registry {uri} is unreachable (ReadTimeout" in str(error.value)


def test_a_model_trained_and_promoted_by_model_is_pinned_with_its_own_digest(registry, tmp_path):
    """`python -m model train` / `promote` as the pipeline user, then the pin as the reader
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
    path = stack_file(tmp_path, [deployment])
    pin(path, registry)
    env_declared = env_of(predictors(render_stack("versions", path), "declared")["main"])
    assert env_declared["MODEL_URI"] == f"models:/{name}/{champion.version}"
    assert env_declared["MODEL_DIGEST"] == champion.tags["model_digest"]

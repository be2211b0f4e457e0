"""The program declares what the pin file says and nothing else: with the registry unreachable
the committed stacks render concrete versions and digests, and a predictor without a matching
pin is a config error naming the pin file, the key and the command that writes it."""

import shutil
from pathlib import Path

import pytest
import yaml

from infra.deployments.pinned_versions import pinned_versions
from infra.deployments.versions import SKIP_DEPLOYMENTS_ENV
from infra.stack_config import StackConfigError, load_stack_file
from release.pins import pin_file_for, read_pins, write_pins
from stacks.render import documents, render_stack
from tests.support.pins import pin_test_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "http://127.0.0.1:9"
"""The discard port: nothing answers there."""


@pytest.mark.parametrize("stack", ["local", "dev", "prod"])
def test_committed_stacks_render_their_pins_with_the_registry_unreachable(stack, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", UNREACHABLE)
    stack_file = REPO_ROOT / f"Pulumi.{stack}.yaml"
    lock = read_pins(pin_file_for(stack_file))
    files = documents(render_stack(stack, stack_file))
    deployments = [d for d in files.values() if d.get("kind") == "SeldonDeployment"]
    assert {f"{d['metadata']['namespace']}/{d['metadata']['name']}" for d in deployments} == set(
        lock.deployments
    )
    for document in deployments:
        key = f"{document['metadata']['namespace']}/{document['metadata']['name']}"
        for predictor in document["spec"]["predictors"]:
            pin = lock.pin(key, predictor["name"])
            env = {e["name"]: e.get("value") for e in predictor["componentSpecs"][0]["spec"]
                   ["containers"][0]["env"]}  # fmt: skip
            assert env["MODEL_URI"] == f"models:/{pin.model}/{pin.version}"
            assert "@" not in env["MODEL_URI"]
            assert env["MODEL_DIGEST"] == pin.digest
            assert predictor["labels"]["version"] == pin.version


@pytest.fixture
def copied(tmp_path: Path) -> Path:
    """Pulumi.dev.yaml and its committed pins in a directory of their own."""
    stack_file = tmp_path / "Pulumi.dev.yaml"
    shutil.copy(REPO_ROOT / "Pulumi.dev.yaml", stack_file)
    shutil.copy(REPO_ROOT / "pins.dev.yaml", tmp_path)
    return stack_file


def test_a_predictor_without_a_pin_names_file_key_and_command(copied: Path) -> None:
    lock = read_pins(pin_file_for(copied))
    predictors = dict(lock.deployments["seldon/iris"])
    del predictors["shadow"]
    write_pins(
        pin_file_for(copied), lock.model_copy(update={"deployments": {"seldon/iris": predictors}})
    )
    with pytest.raises(StackConfigError) as error:
        pinned_versions(load_stack_file(copied).deployments, copied)
    message = str(error.value)
    assert str(pin_file_for(copied)) in message
    assert "deployments.seldon/iris.shadow: no pin for 'shadow' (iris@candidate)" in message
    assert "`python -m release pin --stack dev`" in message


def test_a_pin_taken_through_another_alias_is_refused(copied: Path) -> None:
    text = copied.read_text()
    copied.write_text(text.replace("model: iris@candidate\n          shadow",
                                   "model: iris@nightly\n          shadow"))  # fmt: skip
    with pytest.raises(StackConfigError) as error:
        pinned_versions(load_stack_file(copied).deployments, copied)
    assert (
        "deployments.seldon/iris.shadow: pinned through iris@candidate, but the stack file "
        "serves iris@nightly" in str(error.value)
    )


def test_a_missing_pin_file_is_named_with_the_command(copied: Path) -> None:
    pin_file_for(copied).unlink()
    with pytest.raises(StackConfigError, match=r"pins.dev.yaml does not exist; write it with "
                       r"`python -m release pin --stack dev`"):  # fmt: skip
        pinned_versions(load_stack_file(copied).deployments, copied)


def test_a_pin_of_a_deployment_the_stack_no_longer_declares_is_refused(copied: Path) -> None:
    document = yaml.safe_load(copied.read_text())
    pin_test_stack(copied)
    document["config"]["mlops-platform:deployments"][0]["name"] = "iris2"
    copied.write_text(yaml.safe_dump(document))
    with pytest.raises(StackConfigError) as error:
        pinned_versions(load_stack_file(copied).deployments, copied)
    assert "deployments.seldon/iris: pinned, but the stack file declares no such deployment" in str(
        error.value
    )


def test_the_first_up_switch_declares_no_deployment_and_reads_no_pin(copied, monkeypatch):
    monkeypatch.setenv(SKIP_DEPLOYMENTS_ENV, "1")
    pin_file_for(copied).unlink()
    resolution = pinned_versions(load_stack_file(copied).deployments, copied)
    assert resolution.versions == {}
    assert "python -m release pin" in resolution.pending["seldon/iris"]

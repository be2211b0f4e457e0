"""Alerts reach people: every committed stack's Alertmanager configuration, as the chart gets it
from the real render, passes the real `amtool check-config`, routes each severity to the
receiver the stack file names (`amtool config routes test`), never to `null`, and reads every
credential from the mounted Secret, which holds exactly the keys the receivers need."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.alerting.alertmanager import HEARTBEAT_ONLY, RECEIVER_SECRET, SECRETS_DIR
from infra.stack_config import SECRET_PLACEHOLDER, load_stack_file
from stacks.render import documents, render_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(path.name.split(".")[1] for path in REPO_ROOT.glob("Pulumi.*.yaml"))
AMTOOL = shutil.which("amtool")


def _release_values(stack: str) -> tuple[dict, dict]:
    """(chart values of kube-prometheus-stack, the receivers' Secret) as the render writes them."""
    files = documents(render_stack(stack, REPO_ROOT / f"Pulumi.{stack}.yaml"))
    release = files["helm-releases/kube-prometheus-stack.yaml"]
    return release["values"], files[f"secret-monitoring-{RECEIVER_SECRET}.yaml"]


@pytest.fixture(scope="module", params=STACKS)
def stack_alerting(request, tmp_path_factory) -> tuple[str, dict, dict, Path]:
    stack = request.param
    values, secret = _release_values(stack)
    config = values["alertmanager"]["config"]
    path = tmp_path_factory.mktemp(f"am-{stack}") / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return stack, values, secret, path


def _amtool(*args: str) -> subprocess.CompletedProcess:
    assert AMTOOL, "amtool is not installed (apt prometheus-alertmanager, see .ci/run)"
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, timeout=60)


def test_amtool_accepts_the_rendered_configuration(stack_alerting) -> None:
    _, _, _, path = stack_alerting
    checked = _amtool("check-config", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_each_severity_reaches_the_receiver_the_stack_names(stack_alerting) -> None:
    stack, _, _, path = stack_alerting
    alerting = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").alerting
    expected = {
        "critical": alerting.severity_routes.get("critical", alerting.default),
        "warning": alerting.severity_routes.get("warning", alerting.default),
        "info": alerting.severity_routes.get("info", alerting.default),
        "none": alerting.default,
    }
    for severity, receiver in expected.items():
        labels = ["alertname=ModelBadRequestSurge", "namespace=seldon"]
        labels += [] if severity == "none" else [f"severity={severity}"]
        routed = _amtool("config", "routes", "test", f"--config.file={path}", *labels)
        assert routed.stdout.strip() == receiver, (stack, severity, routed.stdout, routed.stderr)
        assert receiver not in ("null", HEARTBEAT_ONLY)
    watchdog = _amtool("config", "routes", "test", f"--config.file={path}", "alertname=Watchdog")
    assert watchdog.stdout.strip() == HEARTBEAT_ONLY


def test_the_default_receiver_is_never_null_and_has_somewhere_to_send(stack_alerting) -> None:
    _, values, _, _ = stack_alerting
    config = values["alertmanager"]["config"]
    receivers = {r["name"]: r for r in config["receivers"]}
    default = receivers[config["route"]["receiver"]]
    assert default["name"] != "null"
    assert any(key.endswith("_configs") for key in default), default
    assert "null" not in receivers


def test_credentials_are_mounted_files_from_a_secret_holding_exactly_the_needed_keys(
    stack_alerting,
) -> None:
    stack, values, secret, path = stack_alerting
    alerting = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").alerting
    assert values["alertmanager"]["alertmanagerSpec"]["secrets"] == [RECEIVER_SECRET]
    assert sorted(secret["stringData"]) == sorted(alerting.needed_credentials)
    assert set(secret["stringData"].values()) == {SECRET_PLACEHOLDER}
    text = path.read_text()
    files = [line.split(": ", 1)[1] for line in text.splitlines() if "_file: " in line]
    assert sorted(files) == sorted(f"{SECRETS_DIR}/{key}" for key in alerting.needed_credentials)
    for kind in ("api_url:", "routing_key:", "auth_password:", "credentials:"):
        assert kind not in text, f"a credential inline in the config: {kind}"

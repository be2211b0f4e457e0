"""`mlops-platform:alerting` and the receivers' secrets: refused with the key named, before any
resource is declared; `pulumi up` refuses a receiver whose credential is unset."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.stack_config import StackConfigError, parse_stack_config

REPO_ROOT = Path(__file__).resolve().parents[2]
P = "mlops-platform:"
PROD = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"]


def _refused(values: dict, *words: str) -> None:
    with pytest.raises(StackConfigError) as refused:
        parse_stack_config(values, source="Pulumi.prod.yaml")
    for word in ("Pulumi.prod.yaml", *words):
        assert word in str(refused.value), str(refused.value)


def _alerting(**changes) -> dict:
    values = copy.deepcopy(PROD)
    values[f"{P}alerting"].update(changes)
    return values


def test_a_stack_without_alerting_is_refused_with_the_shape_to_add() -> None:
    values = copy.deepcopy(PROD)
    del values[f"{P}alerting"]
    _refused(values, f"{P}alerting: is required", "severityRoutes", "never 'null'")


def test_a_route_to_an_undeclared_receiver_is_refused() -> None:
    _refused(_alerting(default="null"), f"{P}alerting", "['null']", "not declared")


def test_a_receiver_of_two_kinds_is_refused() -> None:
    receivers = [{"name": "x", "slack": {"channel": "#a"}, "pagerduty": {}}]
    _refused(_alerting(receivers=receivers, default="x", severityRoutes={}), "exactly one of")


def test_a_plain_http_webhook_is_refused() -> None:
    receivers = [{"name": "x", "webhook": {"url": "http://hooks.example.com/"}}]
    _refused(_alerting(receivers=receivers, default="x", severityRoutes={}),
             f"{P}alerting.receivers[0].webhook.url")  # fmt: skip


def test_a_plaintext_credential_is_refused() -> None:
    values = {**PROD, f"{P}alertSlackApiUrl": "https://hooks.slack.com/services/T/B/X"}
    _refused(values, f"{P}alertSlackApiUrl", "pulumi config set --secret")


def test_pulumi_up_refuses_unset_secrets_naming_each_key() -> None:
    """prod's receivers need three credentials, and its training runs sign ledger entries. The
    program runs under the mock engine in a process of its own (its runtime state is global)."""
    program = (
        "import sys, yaml\n"
        "from stacks.mock_runtime import declare_under_mocks\n"
        "values = yaml.safe_load(open('Pulumi.prod.yaml'))['config']\n"
        "declare_under_mocks('prod', values, set(), None)\n"
    )
    run = subprocess.run([sys.executable, "-c", program], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert run.returncode != 0
    for key in ("alertPagerdutyRoutingKey", "alertSlackApiUrl", "alertWebhookToken",
                "modelLedgerKey"):  # fmt: skip
        assert f"{P}{key}: the stack needs this secret" in run.stderr, run.stderr
    assert "alertSmtpPassword" not in run.stderr

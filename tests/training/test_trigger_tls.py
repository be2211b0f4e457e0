"""The retrain trigger's port speaks only TLS: the real process (`python -m continuous_training
serve` with prod's rendered environment) serving a throwaway CA's certificate. Alertmanager's side
(verifying that CA from the AlertmanagerConfig's `tlsConfig`) runs in test_alert_path.py."""

import subprocess
import sys

import pytest
import requests

from tests.support.stacks import REPO_ROOT
from tests.training.test_trigger import TOKEN


@pytest.fixture
def trigger(trigger_for, rendered_prod):
    return trigger_for(rendered_prod, TOKEN)


def test_the_trigger_serves_only_tls(trigger) -> None:
    healthy = requests.get(f"{trigger.url}/healthz", verify=str(trigger.ca_file), timeout=10)
    assert healthy.status_code == 200
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(f"{trigger.url}/healthz", verify=True, timeout=10)
    plain = trigger.url.replace("https://", "http://", 1)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(f"{plain}/v1/retrain/iris", headers={"Authorization": f"Bearer {TOKEN}"},
                      json={}, timeout=10)  # fmt: skip


def test_the_trigger_refuses_to_start_without_its_certificate(tmp_path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "RETRAIN_TOKEN_FILE": str(token),
           "RETRAIN_NAMESPACE": "seldon", "RETRAIN_CRONJOBS": '{"iris": "iris-training"}',
           "RETRAIN_TLS_DIR": str(tmp_path / "missing")}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "continuous_training", "serve"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "RETRAIN_TLS_DIR" in result.stderr and "tls.crt and tls.key" in result.stderr

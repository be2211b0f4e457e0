"""Drift to retrain through real parts: a real model server fed shifted inputs, a real Prometheus
scraping it and evaluating the rendered PrometheusRule, a real Alertmanager loaded with the
routing the rendered AlertmanagerConfig becomes, and the real trigger receiving the webhook.

Doubles, each at a boundary that cannot run here: the Prometheus operator's translation of the
AlertmanagerConfig (localrun/operator_translation.py, which also resolves the trigger Service's
DNS name to the trigger's local address and supplies the token Secret's value), and the
Kubernetes API (localrun/kubernetes_api_double.py). The stack rendered is dev's with
`driftFor: 1s` and `training.retrainGroupWait: 1s`, so the alert fires and is sent within the test
rather than after the stack's 30 minutes and 30 seconds; the routing is otherwise the render's.
"""

import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from sklearn.datasets import load_iris

from infra.alerting.alertmanager import alertmanager_config
from infra.stack_config import load_stack_file
from localrun.alertmanager_process import running_alertmanager
from localrun.operator_translation import rendered_alertmanager_config
from localrun.prometheus_server import running_prometheus
from localrun.server_process import ModelServerProcess
from localrun.tls_files import issue_tls_files
from tests.support.pins import pin_test_stack
from tests.training.support import REPO_ROOT, of_kind, rendered_objects

TOKEN = "alertmanager-bearer-token"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
DRIFTED = "petal_length"
DELIVERY_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def fast_drift_render(tmp_path_factory) -> dict[str, dict]:
    directory = tmp_path_factory.mktemp("fast-drift")
    document = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())
    document["config"]["mlops-platform:monitoring"]["driftFor"] = "1s"
    (deployment,) = document["config"]["mlops-platform:deployments"]
    deployment["training"]["retrainGroupWait"] = "1s"
    stack_file = directory / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    pin_test_stack(stack_file)
    return rendered_objects("dev", directory / "render", "--config-file", str(stack_file))


def _alertmanager_config(
    objects: dict[str, dict], trigger_url: str, ca_file: Path, base: dict | None = None
) -> dict:
    """What the operator generates from the rendered AlertmanagerConfigs (under `base`, the
    stack's own root routing, when given), with the trigger at `trigger_url` verified against
    `ca_file` (the namespace's platform CA bundle)."""
    return rendered_alertmanager_config(objects, trigger_url, TOKEN, ca_file, base)


def _wait_for_job(api_double) -> dict:
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while not api_double.created_jobs():
        if time.monotonic() > deadline:
            pytest.fail(f"no Job created within {DELIVERY_TIMEOUT_S}s: {api_double.requests}")
        time.sleep(1)
    (job,) = api_double.created_jobs()
    return job


def test_routing_checks_with_amtool_and_scopes_by_namespace(
    fast_drift_render, amtool_binary, tmp_path
):
    config_file = tmp_path / "alertmanager.yml"
    config_file.write_text(
        yaml.safe_dump(
            _alertmanager_config(
                fast_drift_render, "https://127.0.0.1:1", issue_tls_files(tmp_path).ca_file
            )
        )
    )
    subprocess.run(
        [amtool_binary, "check-config", str(config_file)], check=True, capture_output=True
    )

    def receiver(*labels: str) -> str:
        result = subprocess.run(
            [amtool_binary, "config", "routes", "test", f"--config.file={config_file}", *labels],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    drift = ["alertname=ModelFeatureDrift", "deployment_name=iris"]
    assert receiver(*drift, "namespace=seldon") == "seldon/iris-retrain/retrain"
    assert receiver(*drift, "namespace=other") == "null"
    assert (
        receiver("alertname=ModelAccuracyDrop", "deployment_name=iris", "namespace=seldon")
        == "seldon/iris-retrain/retrain"
    )
    for never in ("ModelErrorRatioHigh", "ModelBadRequestSurge", "ModelLatencySLOBreach"):
        assert receiver(f"alertname={never}", "deployment_name=iris", "namespace=seldon") == "null"


def test_retrain_alerts_also_reach_people_and_5xx_reaches_only_people(
    fast_drift_render, amtool_binary, tmp_path
):
    """With the stack's own root routing (mlops-platform:alerting of dev) under the operator's
    AlertmanagerConfig routes, as the operator assembles them: drift and an accuracy drop go to
    the retrain webhook and on to the team; a 5xx surge, which retraining cannot fix, goes to
    the team only (critical: dev's e-mail receiver)."""
    base = alertmanager_config(load_stack_file(REPO_ROOT / "Pulumi.dev.yaml").alerting)
    config = _alertmanager_config(
        fast_drift_render, "https://127.0.0.1:1", issue_tls_files(tmp_path).ca_file, base
    )
    config_file = tmp_path / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(config))
    subprocess.run(
        [amtool_binary, "check-config", str(config_file)], check=True, capture_output=True
    )

    def receivers(*labels: str) -> str:
        result = subprocess.run(
            [amtool_binary, "config", "routes", "test", f"--config.file={config_file}", *labels],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    where = ["deployment_name=iris", "namespace=seldon"]
    retrain = "seldon/iris-retrain/retrain"
    assert receivers("alertname=ModelFeatureDrift", "severity=warning", *where) == (
        f"{retrain},team-slack"
    )
    assert receivers("alertname=ModelAccuracyDrop", "severity=warning", *where) == (
        f"{retrain},team-slack"
    )
    assert receivers("alertname=ModelErrorRatioHigh", "severity=critical", *where) == ("team-email")


def test_drift_alert_sent_to_alertmanager_reaches_the_trigger(
    fast_drift_render, alertmanager_binary, trigger_for, api_double, tmp_path
):
    """What the issue's check does: the drift alert with the labels the rule produces, posted to a
    real Alertmanager holding the rendered routing, reaches the retrain webhook."""
    trigger = trigger_for(fast_drift_render, TOKEN)
    config = _alertmanager_config(fast_drift_render, trigger.url, trigger.ca_file)
    labels = {
        "alertname": "ModelFeatureDrift",
        "severity": "warning",
        "namespace": "seldon",
        "deployment_name": "iris",
        "predictor_name": "challenger",
        "feature": DRIFTED,
    }
    with running_alertmanager(alertmanager_binary, tmp_path, config) as url:
        answer = requests.post(f"{url}/api/v2/alerts", json=[{"labels": labels}], timeout=10)
        assert answer.status_code == 200, answer.text
        job = _wait_for_job(api_double)
    assert job["metadata"]["annotations"]["retrain.mlops-platform/alert"] == "ModelFeatureDrift"
    assert '"event": "retrain started"' in trigger.log.read_text()


def _rows(drifted: bool) -> list[list[float]]:
    rows = load_iris().data.tolist()
    column = FEATURES.index(DRIFTED)
    return [[v + 5.0 if drifted and i == column else v for i, v in enumerate(r)] for r in rows]


def test_shifted_inputs_to_a_model_server_start_a_retrain(
    fast_drift_render,
    trained_model,
    prometheus_server_binary,
    alertmanager_binary,
    trigger_for,
    api_double,
    tmp_path,
):
    trigger = trigger_for(fast_drift_render, TOKEN)
    groups = [g for r in of_kind(fast_drift_render, "PrometheusRule") for g in r["spec"]["groups"]]
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": groups}))
    env = {
        "SELDON_DEPLOYMENT_ID": "iris",
        "PREDICTOR_ID": "challenger",
        "PREDICTIVE_UNIT_ID": "model",
        "PREDICTOR_LABELS": '{"version": "challenger"}',
        "DRIFT_MIN_ROWS": "10",
        "SERVER_WORKERS": "1",
    }
    alertmanager_dir, prometheus_dir = tmp_path / "am", tmp_path / "prom"
    alertmanager_dir.mkdir()
    prometheus_dir.mkdir()
    config = _alertmanager_config(fast_drift_render, trigger.url, trigger.ca_file)
    with (
        running_alertmanager(alertmanager_binary, alertmanager_dir, config) as alertmanager,
        ModelServerProcess(trained_model["local_model_dir"], env=env) as server,
    ):
        scrape = [
            {
                "job_name": "seldon/iris-seldon-pods",
                "metrics_path": "/prometheus",
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{server.metrics_port}"],
                        "labels": {
                            "namespace": "seldon",
                            "pod": "iris-challenger-0",
                            "container": "model",
                        },
                    }
                ],
            }
        ]
        alerting = {
            "rule_files": [str(rules_file)],
            "alerting": {
                "alertmanagers": [
                    {"static_configs": [{"targets": [urlsplit(alertmanager).netloc]}]}
                ]
            },
        }
        with running_prometheus(
            prometheus_server_binary, prometheus_dir, scrape, extra_config=alerting
        ):
            rows = _rows(drifted=True)
            for start in range(0, 100, 5):
                answer = requests.post(
                    f"{server.url}/api/v1.0/predictions",
                    json={"data": {"names": FEATURES, "ndarray": rows[start : start + 5]}},
                    timeout=30,
                )
                assert answer.status_code == 200, answer.text
            job = _wait_for_job(api_double)
    annotations = job["metadata"]["annotations"]
    assert annotations["retrain.mlops-platform/alert"] == "ModelFeatureDrift"
    labels = yaml.safe_load(annotations["retrain.mlops-platform/labels"])
    assert (labels["namespace"], labels["deployment_name"]) == ("seldon", "iris")
    assert (labels["predictor_name"], labels["feature"]) == ("challenger", DRIFTED)

"""Every committed stack's render carries the monitoring objects of each deployment, schema-valid,
with the deployment's thresholds, and promtool accepts the rendered rules."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from infra.seldon.routing import route_name
from infra.stack_config import load_stack_file

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = REPO_ROOT / "tests" / "schemas" / "monitoring.coreos.com"
STACKS = sorted(path.name.split(".")[1] for path in REPO_ROOT.glob("Pulumi.*.yaml"))


@pytest.fixture(scope="module", params=STACKS)
def rendered(request, tmp_path_factory) -> tuple[str, list[dict]]:
    """(stack, every rendered object) of `python -m stacks.render --stack <stack>`."""
    out = tmp_path_factory.mktemp(f"render-{request.param}")
    subprocess.run(
        [sys.executable, "-m", "stacks.render", "--stack", request.param, "--out", str(out)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    documents = [yaml.safe_load(path.read_text()) for path in sorted(out.glob("*.yaml"))]
    return request.param, documents


def _validator(kind: str) -> jsonschema.protocols.Validator:
    """Validator of the CRD schema; the meta-schema check is skipped because the schemas carry
    Go-style `(?i)` patterns Python's re rejects, on fields the platform never sets."""
    schema = json.loads((SCHEMAS / f"{kind.lower()}_v1.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def _kind(documents: list[dict], kind: str) -> list[dict]:
    return [d for d in documents if d.get("kind") == kind]


def _deployments(stack: str):
    return load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").deployments


def _of_deployment(documents: list[dict], kind: str, deployment) -> dict:
    """The one object of `kind` in the deployment's namespace named after the deployment."""
    (document,) = [
        d
        for d in _kind(documents, kind)
        if d["metadata"]["namespace"] == deployment.namespace
        and d["metadata"]["name"].startswith(f"{deployment.name}-")
    ]
    return document


@pytest.mark.parametrize("kind", ["PodMonitor", "PrometheusRule"])
def test_monitor_and_rules_are_schema_valid_and_selected(rendered, kind):
    stack, documents = rendered
    deployments = _deployments(stack)
    assert len(_kind(documents, kind)) == len(deployments)
    for deployment in deployments:
        document = _of_deployment(documents, kind, deployment)
        _validator(kind).validate(document)
        assert document["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_schema_check_rejects_a_malformed_endpoint(rendered):
    _, documents = rendered
    monitor = _kind(documents, "PodMonitor")[0]
    broken = {**monitor, "spec": {**monitor["spec"], "podMetricsEndpoints": "metrics"}}
    with pytest.raises(jsonschema.ValidationError):
        _validator("PodMonitor").validate(broken)


def test_pod_monitor_scrapes_only_its_deployments_pods_metrics_port(rendered):
    stack, documents = rendered
    for deployment in _deployments(stack):
        monitor = _of_deployment(documents, "PodMonitor", deployment)
        assert monitor["spec"]["selector"]["matchLabels"] == {
            "seldon-deployment-id": deployment.name
        }
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [deployment.namespace]}
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        assert (endpoint["port"], endpoint["path"]) == ("metrics", "/prometheus")
        assert endpoint["interval"] == deployment.monitoring.scrape_interval


def test_rendered_rules_pass_promtool_and_use_the_stack_thresholds(rendered, promtool, tmp_path):
    stack, documents = rendered
    for deployment in _deployments(stack):
        rule = _of_deployment(documents, "PrometheusRule", deployment)
        rules_file = tmp_path / f"rules-{deployment.namespace}-{deployment.name}.yaml"
        rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
        result = subprocess.run(
            [promtool, "check", "rules", str(rules_file)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        config = deployment.monitoring
        alerts = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
        assert alerts["ModelFeatureDrift"]["expr"].endswith(f"> {config.drift_psi_threshold}")
        assert alerts["ModelFeatureDrift"]["for"] == config.drift_for
        assert alerts["ModelErrorRatioHigh"]["expr"].endswith(f"> {config.error_ratio_threshold}")
        assert f"[{config.rate_window}]" in alerts["ModelLatencySLOBreach"]["expr"]


def test_three_dashboards_ship_once_with_deployment_variables_for_grafanas_sidecar(rendered):
    _, documents = rendered
    maps = [
        d
        for d in _kind(documents, "ConfigMap")
        if d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert {m["metadata"]["name"] for m in maps} == {
        "mlops-dashboard-serving",
        "mlops-dashboard-ab",
        "mlops-dashboard-model",
    }
    for config_map in maps:
        assert config_map["metadata"]["namespace"] == "monitoring"
        ((key, text),) = config_map["data"].items()
        dashboard = json.loads(text)
        assert key == f"{dashboard['uid']}.json"
        assert dashboard["panels"] and all(panel["targets"] for panel in dashboard["panels"])
        variables = [v["name"] for v in dashboard["templating"]["list"]]
        assert variables[:3] == ["datasource", "namespace", "deployment"]
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                assert 'namespace="$namespace", deployment_name="$deployment"' in target["expr"]


def test_each_deployment_has_its_platform_route_and_an_unrouted_operator_route(rendered):
    """The platform's VirtualService per deployment validates against Istio's schema and routes
    feedback by predictor ahead of the split; each SeldonDeployment binds the operator's own
    VirtualService to the unrouted Gateway."""
    stack, documents = rendered
    istio = SCHEMAS.parent / "networking.istio.io"
    schema = json.loads((istio / "virtualservice_v1beta1.json").read_text())
    for deployment in _deployments(stack):
        (route,) = [
            d
            for d in _kind(documents, "VirtualService")
            if d["metadata"]["name"] == route_name(deployment.name)
            and d["metadata"]["namespace"] == deployment.namespace
        ]
        jsonschema.validators.validator_for(schema)(schema).validate(route)
        live = [p.name for p in deployment.predictors if not p.shadow]
        names = [rule["name"] for rule in route["spec"]["http"]]
        assert names == [*(f"feedback-{p}" for p in live), "split", "grpc"]
        (sdep,) = [
            d
            for d in _kind(documents, "SeldonDeployment")
            if d["metadata"]["name"] == deployment.name
            and d["metadata"]["namespace"] == deployment.namespace
        ]
        annotations = sdep["metadata"]["annotations"]
        assert annotations["seldon.io/istio-gateway"] == "istio-system/seldon-operator-unrouted"
    (gateway,) = [
        d
        for d in _kind(documents, "Gateway")
        if d["metadata"]["name"] == "seldon-operator-unrouted"
    ]
    assert gateway["spec"]["selector"] == {"mlops-platform/unrouted": "no-proxy-has-this-label"}

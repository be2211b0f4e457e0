"""The security posture of what each stack renders: HTTPS-only gateway, certificates from
cert-manager (schema-valid), JWT on the prediction path where the stack asks for it, the body
limit at the edge, least-privilege NetworkPolicies, no literal credential in any env entry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from infra.mesh import GATEWAY_NAME
from infra.mlflow_auth import AUTH_APP_NAME, RELEASE_USERS_ENV, auth_app_files
from infra.stack_config import load_stack_file
from stacks.mock_runtime import FAKE_GENERATED_PASSWORD
from stacks.render import documents, render_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = REPO_ROOT / "tests" / "schemas"
STACKS = sorted(path.name.split(".")[1] for path in REPO_ROOT.glob("Pulumi.*.yaml"))
CREDENTIAL_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|CREDENTIAL|STORE_URI", re.I)


@pytest.fixture(scope="module", params=STACKS)
def rendered(request) -> tuple[str, list[dict], dict]:
    """(stack, every top-level object, stack outputs plus `__releases__`: the Helm releases by
    name) as `python -m stacks.render` writes them."""
    files = documents(render_stack(request.param, REPO_ROOT / f"Pulumi.{request.param}.yaml"))
    objects = [document for name, document in sorted(files.items()) if "/" not in name]
    outputs = dict(files["pulumi/stack-outputs.yaml"])
    outputs["__releases__"] = {
        document["helmRelease"]: document
        for name, document in files.items()
        if name.startswith("helm-releases/")
    }
    return request.param, objects, outputs


def of_kind(documents: list[dict], kind: str) -> list[dict]:
    return [d for d in documents if d.get("kind") == kind]


def validate(document: dict) -> None:
    group, version = document["apiVersion"].split("/")
    schema = json.loads(
        (SCHEMAS / group / f"{document['kind'].lower()}_{version}.json").read_text()
    )
    jsonschema.validators.validator_for(schema)(schema).validate(document)


def pod_specs(documents: list[dict]) -> list[tuple[str, dict]]:
    """(where, pod spec) of every workload, predictor pods inside SeldonDeployments included."""
    specs = []
    for d in documents:
        name = f"{d.get('kind')}/{d.get('metadata', {}).get('name')}"
        if d.get("kind") in ("Deployment", "StatefulSet", "Job"):
            specs.append((name, d["spec"]["template"]["spec"]))
        if d.get("kind") == "SeldonDeployment":
            specs += [
                (f"{name}/{p['name']}", c["spec"])
                for p in d["spec"]["predictors"]
                for c in p["componentSpecs"]
            ]
    return specs


def test_gateway_serves_https_and_redirects_http(rendered) -> None:
    stack, documents, _ = rendered
    (gateway,) = [g for g in of_kind(documents, "Gateway") if g["metadata"]["name"] == GATEWAY_NAME]
    validate(gateway)
    servers = {s["port"]["protocol"]: s for s in gateway["spec"]["servers"]}
    assert set(servers) == {"HTTPS", "HTTP"}
    tls = servers["HTTPS"]["tls"]
    assert tls["mode"] == "SIMPLE" and tls["credentialName"]
    assert servers["HTTP"]["tls"] == {"httpsRedirect": True}
    config = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").certificates
    if config.gateway_tls == "existingSecret":
        assert tls["credentialName"] == config.gateway_tls_secret
    else:
        (certificate,) = [
            c
            for c in of_kind(documents, "Certificate")
            if c["metadata"]["namespace"] == "istio-system"
        ]
        assert certificate["spec"]["secretName"] == tls["credentialName"]


def test_certificates_come_from_cert_manager_and_are_schema_valid(rendered) -> None:
    stack, documents, _ = rendered
    issuers = {i["metadata"]["name"]: i for i in of_kind(documents, "ClusterIssuer")}
    certificates = of_kind(documents, "Certificate")
    for document in [*issuers.values(), *certificates]:
        validate(document)
    assert issuers["platform-ca"]["spec"]["ca"]["secretName"] == "platform-ca"
    for certificate in certificates:
        assert certificate["spec"]["issuerRef"]["name"] in issuers
        assert certificate["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    gateway_tls = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").certificates.gateway_tls
    assert ("platform-acme" in issuers) is (gateway_tls == "acme")


def test_schema_check_rejects_a_broken_certificate(rendered) -> None:
    _, documents, _ = rendered
    certificate = of_kind(documents, "Certificate")[0]
    broken = {**certificate, "spec": {**certificate["spec"], "dnsNames": "mlflow"}}
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_prediction_path_needs_a_jwt_where_the_stack_enables_it(rendered) -> None:
    stack, documents, _ = rendered
    mesh = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").mesh
    authentications = of_kind(documents, "RequestAuthentication")
    policies = of_kind(documents, "AuthorizationPolicy")
    if mesh.prediction_auth == "none":
        assert authentications == [] and policies == []
        return
    (authentication,) = authentications
    (policy,) = policies
    validate(authentication)
    validate(policy)
    (rule,) = authentication["spec"]["jwtRules"]
    assert (rule["issuer"], rule["jwksUri"]) == (mesh.jwt_issuer, mesh.jwt_jwks_uri)
    assert rule.get("audiences", []) == list(mesh.jwt_audiences)
    assert policy["spec"]["action"] == "DENY"
    (deny,) = policy["spec"]["rules"]
    assert deny["from"] == [{"source": {"notRequestPrincipals": [f"{mesh.jwt_issuer}/*"]}}]
    assert deny["to"] == [{"operation": {"paths": ["/seldon/*"]}}]
    selector = {"istio": "ingressgateway"}
    assert authentication["spec"]["selector"]["matchLabels"] == selector
    assert policy["spec"]["selector"]["matchLabels"] == selector


def test_prod_turns_jwt_on() -> None:
    assert load_stack_file(REPO_ROOT / "Pulumi.prod.yaml").mesh.prediction_auth == "jwt"


def test_gateway_refuses_oversized_bodies(rendered) -> None:
    stack, documents, _ = rendered
    (envoy_filter,) = of_kind(documents, "EnvoyFilter")
    validate(envoy_filter)
    limit = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").mesh.gateway_max_request_bytes
    inserted, *exempt = envoy_filter["spec"]["configPatches"]
    assert inserted["patch"]["value"]["name"] == "envoy.filters.http.buffer"
    assert inserted["patch"]["value"]["typed_config"]["max_request_bytes"] == limit
    assert [p["match"]["routeConfiguration"]["vhost"]["name"] for p in exempt] == [
        f"mlflow.{load_stack_file(REPO_ROOT / f'Pulumi.{stack}.yaml').mesh.ingress_domain}:443"
    ]


def test_outputs_are_https_and_credentials_secret(rendered) -> None:
    _, _, outputs = rendered
    urls = [outputs["grafanaUrl"], outputs["mlflowUrl"]]
    urls += [d["predictionUrl"] for d in outputs["deployments"]]
    assert all(url.startswith("https://") for url in urls), urls
    for key in ("mlflowAdminPassword", "mlflowPipelinePassword", "grafanaAdminPassword"):
        assert outputs[key] == "[secret]"


def test_no_literal_credential_in_any_env_entry(rendered) -> None:
    _, documents, _ = rendered
    assert FAKE_GENERATED_PASSWORD not in json.dumps(documents)
    for where, spec in pod_specs(documents):
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            for entry in container.get("env", []):
                if CREDENTIAL_NAME.search(entry["name"]) and not entry["name"].endswith("_FILE"):
                    assert "value" not in entry, f"{where}: {entry['name']} is a literal"
                    assert "secretKeyRef" in entry["valueFrom"], f"{where}: {entry['name']}"


def test_predictors_log_in_as_the_serving_user_without_a_service_account_token(rendered) -> None:
    stack, documents, _ = rendered
    secrets = {
        (s["metadata"]["namespace"], s["metadata"]["name"]) for s in of_kind(documents, "Secret")
    }
    for sdep in of_kind(documents, "SeldonDeployment"):
        namespace = sdep["metadata"]["namespace"]
        for predictor in sdep["spec"]["predictors"]:
            for component in predictor["componentSpecs"]:
                spec = component["spec"]
                assert spec["automountServiceAccountToken"] is False
                env = {e["name"]: e for e in spec["containers"][0]["env"]}
                for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
                    ref = env[name]["valueFrom"]["secretKeyRef"]
                    assert (namespace, ref["name"]) in secrets


def test_each_predictor_bounds_feedback_rewards_by_its_deployments_range(rendered) -> None:
    stack, documents, _ = rendered
    config = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml")
    declared = {(d.namespace, d.name): d.feedback for d in config.deployments}
    for sdep in of_kind(documents, "SeldonDeployment"):
        feedback = declared[(sdep["metadata"]["namespace"], sdep["metadata"]["name"])]
        for predictor in sdep["spec"]["predictors"]:
            (component,) = predictor["componentSpecs"]
            env = {e["name"]: e.get("value") for e in component["spec"]["containers"][0]["env"]}
            assert float(env["FEEDBACK_REWARD_MIN"]) == feedback.reward_min
            assert float(env["FEEDBACK_REWARD_MAX"]) == feedback.reward_max
            assert feedback.reward_min < feedback.reward_max


def test_mlflow_runs_basic_auth_at_the_client_version_with_protocol_named_ports(rendered) -> None:
    _, documents, _ = rendered
    (server,) = [d for d in of_kind(documents, "Deployment") if d["metadata"]["name"] == "mlflow"]
    container = server["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["--app-name", AUTH_APP_NAME]
    client = re.search(r"^mlflow==(\S+)$", (REPO_ROOT / "requirements.txt").read_text(), re.M)
    assert f":v{client.group(1)}" in container["image"]
    workers = int(container["args"][container["args"].index("--workers") + 1])
    assert workers >= 1
    env = {e["name"]: e for e in container["env"]}
    assert env["MLFLOW_AUTH_CONFIG_PATH"]["value"].endswith("basic_auth.ini")
    for service in of_kind(documents, "Service"):
        for port in service["spec"]["ports"]:
            assert re.fullmatch(r"(http|tcp)-[a-z0-9-]+", port["name"]), service["metadata"]
    (access,) = of_kind(documents, "Job")
    assert "mlflow" in [c["image"] for c in access["spec"]["template"]["spec"]["containers"]][0]
    assert server["metadata"]["name"] and access["metadata"]["name"].startswith("mlflow-access-")


def test_mlflow_loads_the_platform_auth_app_the_tests_run(rendered) -> None:
    """The files mounted on the server's PYTHONPATH are exactly `auth_app_files()` (what the
    `mlflow_server` fixture runs), and the release users are the pipeline user alone."""
    stack, documents, _ = rendered
    (server,) = [d for d in of_kind(documents, "Deployment") if d["metadata"]["name"] == "mlflow"]
    pod = server["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "auth-app"]
    assert env["PYTHONPATH"] == mount["mountPath"]
    config = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml")
    assert env[RELEASE_USERS_ENV] == config.mlflow.mlflow_pipeline_user
    (volume,) = [v for v in pod["volumes"] if v["name"] == "auth-app"]
    (config_map,) = [
        d for d in of_kind(documents, "ConfigMap")
        if d["metadata"]["name"] == volume["configMap"]["name"]
    ]  # fmt: skip
    mounted = {
        item["path"]: config_map["data"][item["key"]] for item in volume["configMap"]["items"]
    }
    assert mounted == auth_app_files()


def test_database_connection_verifies_tls(rendered) -> None:
    _, documents, _ = rendered
    (postgres,) = of_kind(documents, "StatefulSet")
    args = postgres["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "ssl=on" in args
    (hba,) = [c for c in of_kind(documents, "ConfigMap") if c["metadata"]["name"] == "postgres-hba"]
    network_rules = [
        line for line in hba["data"]["pg_hba.conf"].splitlines() if not line.startswith("local")
    ]
    assert network_rules == ["hostssl all all all scram-sha-256"]


def _policies(documents: list[dict], namespace: str) -> dict[str, dict]:
    return {
        p["metadata"]["name"]: p["spec"]
        for p in of_kind(documents, "NetworkPolicy")
        if p["metadata"]["namespace"] == namespace
    }


def test_gateway_reaches_the_executor_not_the_model_container(rendered) -> None:
    stack, documents, _ = rendered
    for namespace in load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").deployment_namespaces:
        policies = _policies(documents, namespace)
        (rule,) = policies["allow-executor-from-gateway"]["ingress"]
        assert {p["port"] for p in rule["ports"]} == {8000, 5001}
        (peer,) = rule["from"]
        assert peer["podSelector"] == {"matchLabels": {"istio": "ingressgateway"}}
        ports = {
            p["port"]
            for spec in policies.values()
            for r in spec.get("ingress", [])
            for p in r.get("ports", [])
        }
        assert 9000 not in ports
        (scrape,) = policies["allow-from-prometheus"]["ingress"]
        (prometheus,) = scrape["from"]
        assert set(prometheus) == {"namespaceSelector", "podSelector"}
        assert {p["port"] for p in scrape["ports"]} == {8000, 6000}
        assert "ipBlock" not in json.dumps(policies)


def test_grafana_sidecar_watches_only_its_namespace(rendered) -> None:
    _, _, outputs = rendered
    grafana = outputs["__releases__"]["kube-prometheus-stack"]["values"]["grafana"]
    assert grafana["rbac"] == {"namespaced": True}
    dashboards = grafana["sidecar"]["dashboards"]
    assert "searchNamespace" not in dashboards  # the chart's default: its own namespace
    assert dashboards["resource"] == "configmap"


def test_cert_manager_chart_is_pinned_with_its_crds(rendered) -> None:
    stack, _, outputs = rendered
    release = outputs["__releases__"]["cert-manager"]
    version = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").certificates.cert_manager_version
    assert (release["chart"], release["version"]) == ("cert-manager", version)
    assert release["repository"] == "https://charts.jetstack.io"
    assert release["values"]["crds"] == {"enabled": True, "keep": True}

"""The security posture of what each stack renders: HTTPS-only gateway, certificates from
cert-manager (schema-valid), JWT on the prediction path where the stack asks for it, the body
limit at the edge, least-privilege NetworkPolicies, no literal credential in any env entry."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from infra.mesh.config import GATEWAY_NAME, PREDICTION_PATHS, REDIRECT_GATEWAY_NAME
from infra.mlflow.auth import (
    AUTH_APP_NAME,
    RELEASE_USERS_ENV,
    SERVED_VERSIONS_ENV,
    SERVING_USERS_ENV,
    auth_app_files,
)
from infra.stack_config import load_stack_file
from release.pins import pin_file_for, read_pins
from stacks.mock_runtime import FAKE_GENERATED_PASSWORD
from stacks.render import documents, render_stack
from tests.support.stacks import REPO_ROOT, STACKS, stack_values

SCHEMAS = REPO_ROOT / "tests" / "schemas"
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
        if d.get("kind") == "CronJob":
            specs.append((name, d["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
        if d.get("kind") == "SeldonDeployment":
            specs += [
                (f"{name}/{p['name']}", c["spec"])
                for p in d["spec"]["predictors"]
                for c in p["componentSpecs"]
            ]
    return specs


def test_gateway_serves_https_and_redirects_http(rendered) -> None:
    stack, documents, _ = rendered
    gateways = {g["metadata"]["name"]: g for g in of_kind(documents, "Gateway")}
    gateway, plain = gateways[GATEWAY_NAME], gateways[REDIRECT_GATEWAY_NAME]
    validate(gateway)
    validate(plain)
    (server,) = gateway["spec"]["servers"]
    assert (server["port"]["number"], server["port"]["protocol"]) == (443, "HTTPS")
    tls = server["tls"]
    assert tls["mode"] == "SIMPLE" and tls["credentialName"]
    (http,) = plain["spec"]["servers"]
    assert (http["port"]["number"], http["port"]["protocol"]) == (80, "HTTP")
    # Only the redirect is bound to the plain-HTTP gateway: nothing is served in clear.
    plain_ref = f"istio-system/{REDIRECT_GATEWAY_NAME}"
    bound = [v for v in of_kind(documents, "VirtualService") if plain_ref in v["spec"]["gateways"]]
    (redirect,) = bound
    validate(redirect)
    (rule,) = redirect["spec"]["http"]
    assert set(rule) == {"name", "redirect"} and "match" not in rule
    mesh = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").mesh
    assert rule["redirect"] == {"scheme": "https", "port": mesh.ingress_https_port}
    config = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").certificates
    if config.gateway_tls == "existingSecret":
        assert tls["credentialName"] == config.gateway_tls_secret
    else:
        (certificate,) = [
            c
            for c in of_kind(documents, "Certificate")
            if c["metadata"]["namespace"] == "istio-system"
            and c["spec"]["secretName"] == tls["credentialName"]
        ]
        assert certificate["spec"]["dnsNames"]


def _bound(service: dict, gateway: dict) -> bool:
    ref = f"{gateway['metadata']['namespace']}/{gateway['metadata']['name']}"
    namespace = service["metadata"]["namespace"]
    return any(g == ref or f"{namespace}/{g}" == ref for g in service["spec"].get("gateways", []))


def port_80_redirected_hosts(documents: list[dict]) -> set[str]:
    """The port-80 virtual hosts whose every path is redirected: those Istio 1.30.3 marks
    `RequireTls: ALL` (pilot/pkg/networking/core/gateway.go:488-520: every host a VirtualService
    bound to a `tls.httpsRedirect` server contributes; :525-543: the server's own hosts), and
    the hosts of a VirtualService on a port-80 gateway whose match-all route redirects."""
    hosts: set[str] = set()
    services = of_kind(documents, "VirtualService")
    for gateway in of_kind(documents, "Gateway"):
        for server in gateway["spec"]["servers"]:
            if server["port"]["number"] != 80:
                continue
            bound = [service for service in services if _bound(service, gateway)]
            if server.get("tls", {}).get("httpsRedirect"):
                hosts |= set(server["hosts"])
                for service in bound:
                    hosts |= set(service["spec"]["hosts"])
            for service in bound:
                if any("redirect" in r and not r.get("match") for r in service["spec"]["http"]):
                    hosts |= set(service["spec"]["hosts"])
    return hosts


def test_acme_challenges_are_served_for_every_gateway_host(rendered) -> None:
    """Istio 1.30.3 (default ingressControllerMode STRICT) serves the solver Ingress only if its
    `kubernetes.io/ingress.class` annotation is `istio` or its `ingressClassName` names an
    IngressClass of Istio's controller (pilot/pkg/config/kube/ingress/virtualservices.go:253-281);
    cert-manager v1.21.1 sets the annotation from `http01.ingress.class`
    (pkg/issuer/acme/http/ingress.go:167-168). The solver's exact host then wins over `*` unless
    the host's port-80 virtual host requires TLS."""
    stack, documents, _ = rendered
    mesh = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").mesh
    assert port_80_redirected_hosts(documents) == {"*"}
    assert not set(mesh.gateway_hosts) & port_80_redirected_hosts(documents)
    declared_classes = {c["metadata"]["name"] for c in of_kind(documents, "IngressClass")}
    for issuer in of_kind(documents, "ClusterIssuer"):
        for solver in issuer["spec"].get("acme", {}).get("solvers", []):
            ingress = solver["http01"]["ingress"]
            assert ingress.get("class") == "istio" or ingress.get("ingressClassName") in (
                declared_classes
            )


def test_local_redirect_goes_to_the_https_port_the_kind_cluster_maps() -> None:
    """local serves HTTPS on the host port kind maps to the gateway's NodePort 30443; the
    redirect from http://localtest.me:8080 must name that port (8443), which `tls.httpsRedirect`
    could not: it keeps the request's port (see `ServiceMesh._https_redirect`)."""
    config = load_stack_file(REPO_ROOT / "Pulumi.local.yaml")
    assert config.cluster.create_kind_cluster
    files = documents(render_stack("local", REPO_ROOT / "Pulumi.local.yaml"))
    (redirect,) = [
        d for d in files.values() if d.get("metadata", {}).get("name") == "https-redirect"
    ]
    port = redirect["spec"]["http"][0]["redirect"]["port"]
    assert port == config.cluster.ingress_https_host_port == 8443
    assert config.mesh.url().endswith(f":{port}")


def test_istio_serves_the_acme_solver_on_the_platform_gateway(rendered) -> None:
    """Istio 1.30.3 turns the solver Ingress into a port-80 Gateway selecting `istio:
    <meshConfig.ingressSelector>`, by default `istio: ingressgateway`
    (pilot/pkg/config/kube/ingress/gateways.go:102-116), and serves only Ingresses of class
    `meshConfig.ingressClass` (default `istio`, STRICT mode: pkg/config/mesh/mesh.go:77-79):
    istiod keeps those defaults and the platform's gateway pods carry that label."""
    _, _, outputs = rendered
    releases = outputs["__releases__"]
    mesh_config = releases["istiod"]["values"].get("meshConfig", {})
    ingress_keys = {"ingressSelector", "ingressService", "ingressClass", "ingressControllerMode"}
    assert not ingress_keys & set(mesh_config)
    assert releases["istio-ingressgateway"]["values"]["labels"]["istio"] == "ingressgateway"


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
    assert deny["to"] == [{"operation": {"paths": PREDICTION_PATHS}}]
    assert "notPaths" not in deny["to"][0]["operation"]
    selector = {"istio": "ingressgateway"}
    assert authentication["spec"]["selector"]["matchLabels"] == selector
    assert policy["spec"]["selector"]["matchLabels"] == selector


REGEX_META = re.compile(r"(?<!\\)[.*+?()\[\]{}|^$]")


def literal_prefix(pattern: str) -> str:
    """The literal text every full match of a regex alternative starts with."""
    end = REGEX_META.search(pattern)
    return re.sub(r"\\(.)", r"\1", pattern[: end.start() if end else len(pattern)])


def covered(prefix: str, policy_paths: list[str]) -> bool:
    """Whether every path starting with `prefix` matches one of the policy's paths (Istio
    AuthorizationPolicy: `x*` is a prefix match, `*` any path)."""
    return any(p == "*" or (p.endswith("*") and prefix.startswith(p[:-1])) for p in policy_paths)


def public_route_prefixes(documents: list[dict]) -> list[str]:
    """The literal start of every path the Seldon gateway routes, except the hosts that
    authenticate themselves (MLflow, Grafana)."""
    (gateway,) = [g for g in of_kind(documents, "Gateway") if g["metadata"]["name"] == GATEWAY_NAME]
    prefixes = []
    for service in of_kind(documents, "VirtualService"):
        if not _bound(service, gateway) or service["spec"]["hosts"] != ["*"]:
            continue
        for rule in service["spec"]["http"]:
            for match in rule.get("match", [{}]):
                uri = match.get("uri", {"prefix": "/"})
                if "regex" in uri:
                    prefixes += [literal_prefix(alt) for alt in uri["regex"].split("|")]
                else:
                    prefixes.append(uri.get("prefix", uri.get("exact")))
    return prefixes


def test_jwt_covers_every_public_prediction_route(rendered) -> None:
    """REST and gRPC alike (Istio's `uri.regex` is a full match, so an alternative's literal
    start bounds every path it routes)."""
    stack, documents, _ = rendered
    if load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").mesh.prediction_auth == "none":
        return
    (policy,) = of_kind(documents, "AuthorizationPolicy")
    (deny,) = policy["spec"]["rules"]
    (operation,) = deny["to"]
    prefixes = public_route_prefixes(documents)
    assert any(p.startswith("/seldon.protos.") for p in prefixes)
    assert [p for p in prefixes if not covered(p, operation["operation"]["paths"])] == []


def test_route_coverage_check_sees_an_unanchored_grpc_match() -> None:
    """The operator's own gRPC regex (`.*inference.*`) matches paths no prefix can cover."""
    assert literal_prefix(".*inference.*") == ""
    assert not covered("", PREDICTION_PATHS)
    assert literal_prefix(r"/seldon\.protos\..*") == "/seldon.protos."
    assert covered("/seldon.protos.", PREDICTION_PATHS)


def operator_gateway(deployment: dict, operator_values: dict) -> str:
    """The Gateway the operator binds a SeldonDeployment's VirtualServices to: its
    `seldon.io/istio-gateway` annotation, else the manager's ISTIO_GATEWAY, the chart's
    `istio.gateway` (seldon-core v1.17.1 operator/controllers/seldondeployment_controller.go:247
    and :272, seldondeployment_explainers.go:331-339; helm-charts/seldon-core-operator/templates/
    deployment_seldon-controller-manager.yaml:123)."""
    annotations = deployment["metadata"].get("annotations") or {}
    return annotations.get("seldon.io/istio-gateway", operator_values["istio"]["gateway"])


def test_operator_routes_are_on_no_public_gateway(rendered) -> None:
    """The operator's own VirtualServices route through its flipping subsets with an unanchored
    gRPC regex (`.*seldon.protos.*`) no JWT path prefix covers: every SeldonDeployment's, and one
    made by hand without the platform's annotation, bind to a Gateway no proxy implements."""
    _, documents, outputs = rendered
    values = outputs["__releases__"]["seldon-core"]["values"]
    gateways = {
        f"{g['metadata']['namespace']}/{g['metadata']['name']}": g
        for g in of_kind(documents, "Gateway")
    }
    public = {"istio": "ingressgateway"}
    hand_made = {"metadata": {"name": "hand-made", "namespace": "seldon"}}
    deployments = [*of_kind(documents, "SeldonDeployment"), hand_made]
    for deployment in deployments:
        bound = operator_gateway(deployment, values)
        assert bound in gateways, f"{bound} is no Gateway of the stack"
        assert gateways[bound]["spec"]["selector"] != public, deployment["metadata"]["name"]


def _allows(policy: dict, port: int, cidr: str) -> bool:
    """Whether an egress rule admits `cidr` on `port`: named in an ipBlock, or a rule with no
    `to` at all (any peer, infra/namespaces/ ANY_PEER)."""
    return any(
        ("to" not in rule or {"ipBlock": {"cidr": cidr}} in rule["to"])
        and {"protocol": "TCP", "port": port} in rule["ports"]
        for rule in policy["spec"].get("egress", [])
    )


def test_mlflow_ambient_s3_credentials_have_an_identity_and_a_way_out(rendered) -> None:
    """EKS Pod Identity and IRSA both bind a role to a ServiceAccount (not `default`); the Pod
    Identity agent answers on 169.254.170.23:80 (AWS EKS user guide, pod-id-how-it-works)."""
    stack, documents, _ = rendered
    config = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").mlflow
    (server,) = [d for d in of_kind(documents, "Deployment") if d["metadata"]["name"] == "mlflow"]
    pod = server["spec"]["template"]["spec"]
    accounts = {
        a["metadata"]["name"]: a
        for a in of_kind(documents, "ServiceAccount")
        if a["metadata"]["namespace"] == "mlflow"
    }
    assert pod["serviceAccountName"] in accounts
    account = accounts[pod["serviceAccountName"]]
    assert account["automountServiceAccountToken"] is False
    annotations = account["metadata"].get("annotations") or {}
    assert (annotations.get("eks.amazonaws.com/role-arn") or None) == (
        config.s3_role_arn if config.ambient_credentials == "irsa" else None
    )
    egress = [
        d
        for d in of_kind(documents, "NetworkPolicy")
        if d["metadata"]["namespace"] == "mlflow" and "Egress" in d["spec"]["policyTypes"]
    ]
    to_agent = [d["spec"]["podSelector"] for d in egress if _allows(d, 80, "169.254.170.23/32")]
    database = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").registry_database
    expected = []
    if config.ambient_credentials == "podIdentity":
        expected.append({"matchLabels": {"app.kubernetes.io/name": "mlflow"}})
    if database.uses_pod_identity:  # the registry database's backups, only its pods
        expected.append({"matchExpressions": [{"key": "cnpg.io/cluster", "operator": "Exists"}]})
    assert sorted(map(str, to_agent)) == sorted(map(str, expected))
    assert not [d for d in egress if _allows(d, 80, "169.254.169.254/32")], "no instance metadata"


def test_prod_turns_jwt_on() -> None:
    assert load_stack_file(REPO_ROOT / "Pulumi.prod.yaml").mesh.prediction_auth == "jwt"


def test_every_public_gateway_asks_predictions_for_a_jwt(rendered) -> None:
    """dev and prod put the gateway behind a LoadBalancer: the rendered gateway Service is
    public, so the prediction path must carry the JWT policy; local (NodePort, which kind binds
    to 127.0.0.1) may leave it open."""
    stack, documents, outputs = rendered
    (gateway,) = [r for r in outputs["__releases__"].values() if r["chart"] == "gateway"]
    public = gateway["values"]["service"]["type"] == "LoadBalancer"
    assert public is (stack_values(stack)["mlops-platform:ingressServiceType"] == "LoadBalancer")
    if public:
        assert [p["metadata"]["name"] for p in of_kind(documents, "AuthorizationPolicy")] == [
            "prediction-requires-jwt"
        ]


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
    client = re.search(r"^mlflow==([\w.]+)", (REPO_ROOT / "requirements.txt").read_text(), re.M)
    assert f":v{client.group(1)}" in container["image"]
    workers = int(container["args"][container["args"].index("--workers") + 1])
    assert workers >= 1
    env = {e["name"]: e for e in container["env"]}
    assert env["MLFLOW_AUTH_CONFIG_PATH"]["value"].endswith("basic_auth.ini")
    for service in of_kind(documents, "Service"):
        for port in service["spec"]["ports"]:
            assert re.fullmatch(r"(https?|tcp)-[a-z0-9-]+", port["name"]), service["metadata"]
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


def models_loaded_by_pods(documents: list[dict]) -> set[tuple[str, str]]:
    """(model, version) of every model a pod of the render loads: each predictor's MODEL_URI,
    a shadow's COMPARE_MODEL_URI, a batch scoring CronJob's `--model name/version`."""
    loaded = set()
    for where, spec in pod_specs(documents):
        for container in spec.get("containers", []):
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            uris = [env.get(name) for name in ("MODEL_URI", "COMPARE_MODEL_URI")]
            args = [*container.get("command", []), *container.get("args", [])]
            if "--model" in args:
                uris.append("models:/" + args[args.index("--model") + 1])
            for uri in filter(None, uris):
                name, version = uri.removeprefix("models:/").split("/")
                assert version.isdigit(), f"{where}: {uri} is not a pinned version"
                loaded.add((name, version))
    return loaded


def test_mlflow_reads_the_served_versions_the_pods_load(rendered) -> None:
    """The serving user is narrowed to a list, mounted where the auth app reads it, holding
    exactly the versions the stack's pods load: champion, challenger, the shadow and the
    champion it compares with, batch scoring; all of them the pin file's versions."""
    stack, documents, _ = rendered
    (server,) = [d for d in of_kind(documents, "Deployment") if d["metadata"]["name"] == "mlflow"]
    container = server["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    config = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml")
    assert env[SERVING_USERS_ENV] == config.mlflow.mlflow_serving_user
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "served-versions"]
    directory, file_name = env[SERVED_VERSIONS_ENV].rsplit("/", 1)
    assert mount["mountPath"] == directory
    (volume,) = [v for v in server["spec"]["template"]["spec"]["volumes"]
                 if v["name"] == "served-versions"]  # fmt: skip
    (listed,) = [c for c in of_kind(documents, "ConfigMap")
                 if c["metadata"]["name"] == volume["configMap"]["name"]]  # fmt: skip
    entries = json.loads(listed["data"][file_name])["versions"]
    assert all(set(entry) == {"model", "version"} for entry in entries), entries
    listed_versions = {(entry["model"], entry["version"]) for entry in entries}
    assert listed_versions == models_loaded_by_pods(documents)
    pins = read_pins(pin_file_for(REPO_ROOT / f"Pulumi.{stack}.yaml"))
    pinned = {(p.model, p.version) for predictors in pins.deployments.values()
              for p in predictors.values()}  # fmt: skip
    assert listed_versions == pinned


def test_database_connection_verifies_tls(rendered) -> None:
    """The registry database (CloudNativePG) presents the platform CA's certificate for its
    read-write Service, refuses every connection without TLS, and MLflow verifies it."""
    _, documents, _ = rendered
    (cluster,) = of_kind(documents, "Cluster")
    spec = cluster["spec"]
    assert spec["certificates"]["serverTLSSecret"] == spec["certificates"]["serverCASecret"]
    (certificate,) = [
        c for c in of_kind(documents, "Certificate")
        if c["spec"]["secretName"] == spec["certificates"]["serverTLSSecret"]
    ]  # fmt: skip
    assert certificate["spec"]["issuerRef"]["kind"] == "ClusterIssuer"
    assert "registry-db-rw.mlflow.svc" in certificate["spec"]["dnsNames"]
    assert spec["postgresql"]["pg_hba"] == ["hostnossl all all all reject"]
    assert spec["postgresql"]["parameters"]["ssl_min_protocol_version"] == "TLSv1.2"
    assert not of_kind(documents, "StatefulSet")


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


def test_the_http01_self_check_reaches_the_gateway_pods_by_selector(rendered) -> None:
    """cert-manager v1.21.1 fetches each HTTP-01 challenge from the public address itself first
    (pkg/issuer/acme/http/http.go:146); inside the cluster that is the gateway pods, which an
    `ipBlock` does not admit on Cilium: both ends name the other by selector on port 80."""
    _, documents, _ = rendered
    controller = {
        "app.kubernetes.io/name": "cert-manager",
        "app.kubernetes.io/component": "controller",
    }
    gateway = {"istio": "ingressgateway"}

    def names(peer: dict, namespace: str, labels: dict) -> bool:
        return peer.get("namespaceSelector") == {
            "matchLabels": {"kubernetes.io/metadata.name": namespace}
        } and all(peer.get("podSelector", {}).get("matchLabels", {}).get(k) == v
                  for k, v in labels.items())  # fmt: skip

    def admits(namespace: str, direction: str, own: dict, peer_ns: str, peer: dict) -> bool:
        key = "to" if direction == "egress" else "from"
        return any(
            all(spec["podSelector"].get("matchLabels", {}).get(k) == v for k, v in own.items())
            and {"protocol": "TCP", "port": 80} in rule.get("ports", [])
            and any(names(p, peer_ns, peer) for p in rule.get(key, []))
            for spec in _policies(documents, namespace).values()
            for rule in spec.get(direction, [])
        )

    assert admits("cert-manager", "egress", controller, "istio-system", gateway)
    assert admits("istio-system", "ingress", gateway, "cert-manager", controller)


KPS_DASHBOARD_SEARCH = "ALL"
"""kube-prometheus-stack 77.10.0 charts/kube-prometheus-stack/values.yaml:1368: what the sidecar
searches when the platform does not say (grafana 10.0.0's own default, null, is overridden)."""


def test_grafana_sidecar_searches_only_where_its_role_reads(rendered) -> None:
    """With `rbac.namespaced` grafana 10.0.0 grants the sidecar a Role in the release namespace
    only (templates/role.yaml); any other search scope is a 403 loop and no dashboard at all."""
    _, objects, outputs = rendered
    release = outputs["__releases__"]["kube-prometheus-stack"]
    grafana = release["values"]["grafana"]
    assert grafana["rbac"] == {"namespaced": True}
    dashboards = grafana["sidecar"]["dashboards"]
    assert dashboards.get("searchNamespace", KPS_DASHBOARD_SEARCH) == [release["namespace"]]
    assert dashboards["resource"] == "configmap"
    labelled = [
        d
        for d in of_kind(objects, "ConfigMap")
        if d["metadata"].get("labels", {}).get(dashboards["label"]) == dashboards["labelValue"]
    ]
    assert labelled
    assert {d["metadata"]["namespace"] for d in labelled} == {release["namespace"]}


def test_cert_manager_chart_is_pinned_with_its_crds(rendered) -> None:
    stack, _, outputs = rendered
    release = outputs["__releases__"]["cert-manager"]
    version = load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml").certificates.cert_manager_version
    assert (release["chart"], release["version"]) == ("cert-manager", version)
    assert release["repository"] == "https://charts.jetstack.io"
    assert release["values"]["crds"] == {"enabled": True, "keep": True}


def test_mlflow_and_the_trigger_serve_only_tls_with_platform_certificates(rendered) -> None:
    """Each server mounts a platform-CA certificate for its Service names, probes over HTTPS
    and is addressed by https://; every pod that calls MLflow verifies it with its namespace's
    CA bundle; the gateway verifies it by DestinationRule. All schema-valid."""
    stack, documents, outputs = rendered
    certificates = {
        (c["metadata"]["namespace"], c["spec"]["secretName"]): c
        for c in of_kind(documents, "Certificate")
    }
    for certificate in certificates.values():
        validate(certificate)
    servers = [d for d in of_kind(documents, "Deployment")
               if d["metadata"]["name"] in ("mlflow", "retrain-trigger")]  # fmt: skip
    assert "mlflow" in [s["metadata"]["name"] for s in servers]
    for server in servers:
        namespace, name = server["metadata"]["namespace"], server["metadata"]["name"]
        pod = server["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "server-tls"]
        certificate = certificates[namespace, volume["secret"]["secretName"]]
        assert f"{name}.{namespace}.svc" in certificate["spec"]["dnsNames"]
        assert certificate["spec"]["issuerRef"] == {"name": "platform-ca", "kind": "ClusterIssuer"}
        assert "server-tls" in [m["name"] for m in container["volumeMounts"]]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["scheme"] == "HTTPS", (name, probe)
        (service,) = [
            s for s in of_kind(documents, "Service")
            if (s["metadata"]["namespace"], s["metadata"]["name"]) == (namespace, name)
        ]  # fmt: skip
        assert [p["name"].split("-")[0] for p in service["spec"]["ports"]] == ["https"]
    (mlflow,) = [s for s in servers if s["metadata"]["name"] == "mlflow"]
    args = mlflow["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--ssl-certfile" in args[args.index("--uvicorn-opts") + 1]
    assert outputs["mlflowInClusterUrl"].startswith("https://")
    clients = [
        (where, container)
        for where, spec in pod_specs(documents)
        for container in spec["containers"]
        if any(e["name"] == "MLFLOW_TRACKING_URI" for e in container.get("env", []))
    ]
    assert len({where.split("/")[0] for where, _ in clients}) >= 2, clients  # predictors, CronJob
    # Request-log sinks and batch scoring CronJobs are among them (prod has both).
    sinks_and_scoring = {where for where, _ in pod_specs(documents)
                         if where.endswith(("/request-log", "-scoring"))}  # fmt: skip
    assert sinks_and_scoring <= {where for where, _ in clients}, sinks_and_scoring
    assert stack != "prod" or len(sinks_and_scoring) == 2
    for where, container in clients:
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["MLFLOW_TRACKING_URI"].startswith("https://"), where
        mounted = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert env["MLFLOW_TRACKING_SERVER_CERT_PATH"] == f"{mounted['platform-ca']}/ca.crt", where
    (rule,) = of_kind(documents, "DestinationRule")
    validate(rule)
    tls = rule["spec"]["trafficPolicy"]["tls"]
    assert tls["mode"] == "SIMPLE" and rule["spec"]["host"] == tls["sni"]
    assert ("istio-system", tls["credentialName"]) in certificates

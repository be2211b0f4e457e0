"""`make chart-check`'s checks on small hand-written clusters (no helm here): each check finds
the defect it exists for, and passes the same cluster once it is fixed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ci.chart_check.charts import ChartError, Release, fetch_chart, source_directory
from ci.chart_check.cluster import Cluster
from ci.chart_check.contract import (
    Footprint,
    check_pod_security,
    check_rbac,
    check_requests,
    check_selectors,
    check_services_and_flows,
    footprint,
)
from ci.chart_check.schemas import check_schemas

RESTRICTED_CONTAINER = {
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
        "capabilities": {"drop": ["ALL"]},
    },
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
}


def namespace(name: str, level: str = "restricted") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"pod-security.kubernetes.io/enforce": level}},
    }


def deployment(name: str, ns: str, labels: dict, containers: list[dict], **spec) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": containers, **spec},
            },
        },
    }


def container(name: str, ports: list[tuple[str, int]] = (), **extra) -> dict:
    return {
        "name": name,
        "image": f"example/{name}:1",
        "ports": [{"name": n, "containerPort": p} for n, p in ports],
        **copy.deepcopy(RESTRICTED_CONTAINER),
        **extra,
    }


def service(name: str, ns: str, selector: dict, port: int, target: int | str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": selector, "ports": [{"port": port, "targetPort": target}]},
    }


def policy(name: str, ns: str, spec: dict) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


GATEWAY_PODS = {"istio": "ingressgateway"}
GRAFANA_PODS = {"app.kubernetes.io/name": "grafana"}


def gateway_and_grafana(grafana_ingress_peer: dict) -> Cluster:
    """An Istio gateway routing to Grafana's Service; monitoring denies by default and admits
    `grafana_ingress_peer` on 3000."""
    platform = [
        namespace("istio-system", "baseline"),
        namespace("monitoring", "baseline"),
        {
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "Gateway",
            "metadata": {"name": "public", "namespace": "istio-system"},
            "spec": {"selector": GATEWAY_PODS, "servers": []},
        },
        {
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "VirtualService",
            "metadata": {"name": "grafana", "namespace": "monitoring"},
            "spec": {
                "hosts": ["grafana.example.com"],
                "gateways": ["istio-system/public"],
                "http": [
                    {
                        "route": [
                            {
                                "destination": {
                                    "host": "grafana.monitoring.svc.cluster.local",
                                    "port": {"number": 80},
                                }
                            }
                        ]
                    }
                ],
            },
        },
        policy("default-deny", "monitoring", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        policy(
            "allow-grafana",
            "monitoring",
            {
                "podSelector": {"matchLabels": GRAFANA_PODS},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [grafana_ingress_peer], "ports": [{"port": 3000}]}],
            },
        ),
    ]
    charts = {
        "gateway": [deployment("gateway", "istio-system", GATEWAY_PODS, [container("proxy")])],
        "grafana": [
            deployment(
                "grafana", "monitoring", GRAFANA_PODS, [container("grafana", [("grafana", 3000)])]
            ),
            service("grafana", "monitoring", GRAFANA_PODS, 80, "grafana"),
        ],
    }
    return Cluster(platform, charts)


FROM_GATEWAY = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}},
    "podSelector": {"matchLabels": GATEWAY_PODS},
}


def test_a_flow_the_policies_admit_passes() -> None:
    cluster = gateway_and_grafana(FROM_GATEWAY)
    assert check_services_and_flows(cluster) == []
    assert check_selectors(cluster) == []


def test_an_ip_block_does_not_admit_a_pod() -> None:
    """Cilium does not match pod IPs with ipBlock: a pod-to-pod allow must use selectors."""
    (finding,) = check_services_and_flows(gateway_and_grafana({"ipBlock": {"cidr": "0.0.0.0/0"}}))
    assert finding.check == "network"
    assert "istio-system/Deployment/gateway -> monitoring/grafana:80" in finding.problem
    assert "ingress of monitoring/Deployment/grafana (allow-grafana, default-deny)" in (
        finding.problem
    )


def test_an_egress_default_deny_drops_the_flow_too() -> None:
    cluster = gateway_and_grafana(FROM_GATEWAY)
    cluster.platform.append(
        policy("deny-out", "istio-system", {"podSelector": {}, "policyTypes": ["Egress"]})
    )
    (finding,) = check_services_and_flows(cluster)
    assert "egress of istio-system/Deployment/gateway (deny-out) drops it" in finding.problem


def test_a_route_to_a_missing_service_or_port_is_found() -> None:
    cluster = gateway_and_grafana(FROM_GATEWAY)
    route = cluster.platform[3]["spec"]["http"][0]["route"][0]["destination"]
    route["port"]["number"] = 3000
    (finding,) = check_services_and_flows(cluster)
    assert finding.check == "services"
    assert "Service monitoring/grafana has no port 3000 (ports [80])" in finding.problem
    route["host"] = "kube-prometheus-stack-grafana.monitoring.svc.cluster.local"
    (finding,) = check_services_and_flows(cluster)
    assert "does not exist" in finding.problem


def test_a_selector_that_picks_nothing_is_found() -> None:
    cluster = gateway_and_grafana(
        {**FROM_GATEWAY, "podSelector": {"matchLabels": {"app": "istio-ingressgateway"}}}
    )
    findings = check_selectors(cluster)
    assert [f.check for f in findings] == ["selectors"]
    assert "selects no pod" in findings[0].problem


def sidecar_cluster(search: str | None, role_kind: str = "Role") -> Cluster:
    """Grafana's dashboard sidecar (k8s-sidecar) with a Role like grafana 10.0.0's
    `rbac.namespaced: true` (templates/role.yaml) or a ClusterRole."""
    env = [{"name": "LABEL", "value": "grafana_dashboard"}, {"name": "LABEL_VALUE", "value": "1"}]
    if search is not None:
        env.append({"name": "NAMESPACE", "value": search})
    sidecar = container("grafana-sc-dashboard", env=env)
    sidecar["image"] = "quay.io/kiwigrid/k8s-sidecar:1.30.10"
    grafana = deployment("grafana", "monitoring", GRAFANA_PODS, [sidecar])
    grafana["spec"]["template"]["spec"]["serviceAccountName"] = "grafana"
    scope = {"namespace": "monitoring"} if role_kind == "Role" else {}
    role = {
        "kind": role_kind,
        "metadata": {"name": "grafana", **scope},
        "rules": [{"apiGroups": [""], "resources": ["configmaps", "secrets"],
                   "verbs": ["get", "watch", "list"]}],
    }  # fmt: skip
    binding = {
        "kind": f"{role_kind}Binding",
        "metadata": {"name": "grafana", **scope},
        "roleRef": {"kind": role_kind, "name": "grafana"},
        "subjects": [{"kind": "ServiceAccount", "name": "grafana", "namespace": "monitoring"}],
    }  # fmt: skip
    dashboard = {
        "kind": "ConfigMap",
        "metadata": {"name": "d", "namespace": "monitoring", "labels": {"grafana_dashboard": "1"}},
    }
    return Cluster(
        [namespace("monitoring", "privileged"), dashboard], {"kps": [grafana, role, binding]}
    )


def test_a_sidecar_searching_all_namespaces_under_a_namespaced_role_is_found() -> None:
    """kube-prometheus-stack 77.10.0 values.yaml:1368 `searchNamespace: ALL` under grafana's
    namespaced Role: 403 on every list, no dashboard at all."""
    (finding,) = check_rbac(sidecar_cluster("ALL"))
    assert finding.check == "rbac"
    assert "searches configmaps in all namespaces (ALL)" in finding.problem
    assert "403" in finding.problem


@pytest.mark.parametrize(
    ("search", "role"), [("monitoring", "Role"), (None, "Role"), ("ALL", "ClusterRole")]
)
def test_a_sidecar_searching_where_it_may_read_passes(search, role) -> None:
    assert check_rbac(sidecar_cluster(search, role)) == []


def test_a_dashboard_outside_the_searched_namespaces_is_found() -> None:
    cluster = sidecar_cluster("monitoring")
    cluster.platform[1]["metadata"]["namespace"] = "seldon"
    (finding,) = check_rbac(cluster)
    assert finding.subject == "ConfigMap seldon/d"


def test_pod_security_levels_are_enforced_per_namespace() -> None:
    cluster = gateway_and_grafana(FROM_GATEWAY)
    assert check_pod_security(cluster) == []
    grafana = cluster.charts["grafana"][0]["spec"]["template"]["spec"]
    grafana["containers"][0]["securityContext"]["privileged"] = True
    grafana["volumes"] = [{"name": "host", "hostPath": {"path": "/"}}]
    problems = {f.problem for f in check_pod_security(cluster)}
    assert problems == {
        "baseline: container 'grafana' is privileged",
        "baseline: volume 'host' is a hostPath",
    }
    cluster.platform[1]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "privileged"
    assert check_pod_security(cluster) == []


def test_restricted_needs_every_hardening_field() -> None:
    cluster = gateway_and_grafana(FROM_GATEWAY)
    cluster.platform[1]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "restricted"
    assert check_pod_security(cluster) == []
    grafana = cluster.charts["grafana"][0]["spec"]["template"]["spec"]["containers"][0]
    del grafana["securityContext"]["capabilities"]
    (finding,) = check_pod_security(cluster)
    assert finding.problem == "restricted: container 'grafana' does not drop ALL capabilities"


def autoscaled(max_replicas: int) -> Cluster:
    cluster = gateway_and_grafana(FROM_GATEWAY)
    cluster.charts["gateway"].append(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "gateway", "namespace": "istio-system"},
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "gateway",
                },
                "minReplicas": 1,
                "maxReplicas": max_replicas,
            },
        }
    )
    return cluster


def test_requests_count_autoscalers_at_their_maximum() -> None:
    """istio 1.30.3's gateway chart autoscales to 5 by default (values.yaml autoscaling)."""
    total, findings = footprint(autoscaled(5))
    assert findings == []
    assert total == Footprint(cpu=0.6, memory_gib=0.75)  # 5 gateways + Grafana, 100m/128Mi each
    assert check_requests(autoscaled(1), Footprint(0.25, 1.0)) == []
    (finding,) = check_requests(autoscaled(5), Footprint(0.25, 1.0))
    assert "0.6 CPU / 0.75 GiB at autoscaler maxima exceeds the budget" in finding.problem


def test_a_container_without_requests_is_found() -> None:
    cluster = gateway_and_grafana(FROM_GATEWAY)
    del cluster.charts["grafana"][0]["spec"]["template"]["spec"]["containers"][0]["resources"]
    (finding,) = check_requests(cluster, None)
    assert finding.problem == "container 'grafana' requests no cpu or memory"


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"size": {"type": "integer"}},
                                "additionalProperties": False,
                            }
                        },
                    }
                },
            }
        ],
    },
}


def widget(size) -> dict:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "monitoring"},
        "spec": {"size": size},
    }


def test_custom_resources_validate_against_the_charts_crds() -> None:
    validated, findings = check_schemas(Cluster([widget(3)], {"chart": [CRD]}), "1.33")
    assert (validated, findings) == (2, [])
    _, (finding,) = check_schemas(Cluster([widget("three")], {"chart": [CRD]}), "1.33")
    assert finding.subject == "Widget monitoring/w (platform)"
    assert "'three' is not of type 'integer'" in finding.problem
    _, (finding,) = check_schemas(Cluster([widget(3)]), "1.33")
    assert "no chart installs its CRD" in finding.problem


def test_built_in_kinds_validate_against_the_kubernetes_openapi() -> None:
    cluster = gateway_and_grafana(FROM_GATEWAY)
    cluster.charts["grafana"][0]["spec"]["replica"] = 2
    _, findings = check_schemas(Cluster([], {"grafana": cluster.charts["grafana"]}), "1.33")
    assert [f.subject for f in findings] == ["Deployment monitoring/grafana (grafana)"]


def chart(directory: Path, name: str, dependencies: list[dict] | None = None) -> None:
    directory.mkdir(parents=True)
    content = {"apiVersion": "v2", "name": name, "version": "1.0.0"}
    if dependencies:
        content["dependencies"] = dependencies
    (directory / "Chart.yaml").write_text(yaml.safe_dump(content))


def test_chart_sources_are_found_by_name_and_version_with_their_dependencies(tmp_path) -> None:
    sources = tmp_path / "sources"
    chart(
        sources / "stack-2.0.0",
        "stack",
        [
            {"name": "grafana", "version": "10.0.0", "repository": "https://example.com"},
            {"name": "exporter", "version": "0.12.*", "repository": "https://example.com"},
            {"name": "crds", "version": "0.0.0"},
        ],
    )
    chart(sources / "stack-2.0.0" / "charts" / "crds", "crds")
    chart(sources / "grafana-10.0.0", "grafana")
    for patch in ("2", "10", "9"):
        chart(sources / f"exporter-0.12.{patch}", "exporter")
        (sources / f"exporter-0.12.{patch}" / "values.yaml").write_text(f"patch: {patch}\n")
    release = Release("stack", "stack", "2.0.0", "https://example.com", "monitoring", {})
    fetched = fetch_chart(release, tmp_path / "work", helm="helm", sources=sources)
    vendored = sorted(p.name for p in (fetched / "charts").iterdir())
    assert vendored == ["crds", "exporter", "grafana"]
    # `0.12.*` takes the highest patch, as `helm dependency build` would
    assert (fetched / "charts" / "exporter" / "values.yaml").read_text() == "patch: 10\n"
    with pytest.raises(ChartError, match="grafana-9.9.9 is missing"):
        source_directory(sources, "grafana", "9.9.9")
    (sources / "grafana-10.0.0" / "Chart.yaml").write_text("name: loki\n")
    with pytest.raises(ChartError, match="names chart 'loki'"):
        source_directory(sources, "grafana", "10.0.0")


def test_a_missing_dependency_source_says_which(tmp_path) -> None:
    sources = tmp_path / "sources"
    chart(sources / "stack-2.0.0", "stack", [{"name": "grafana", "version": "10.0.0",
                                               "repository": "https://example.com"}])  # fmt: skip
    release = Release("stack", "stack", "2.0.0", "https://example.com", "monitoring", {})
    with pytest.raises(ChartError, match="no grafana-10.0.0"):
        fetch_chart(release, tmp_path / "work", helm="helm", sources=sources)


def test_a_missing_helm_says_how_to_get_it(tmp_path) -> None:
    release = Release("stack", "stack", "2.0.0", "https://example.com", "monitoring", {})
    with pytest.raises(ChartError, match="ci/install-helm.sh"):
        fetch_chart(release, tmp_path, helm=str(tmp_path / "no-helm"), sources=None)


FAKE_HELM_PULL = """#!/usr/bin/env bash
# `helm pull CHART --repo R --version V --untar --untardir DIR` as Helm v4.1.4 does it: refuses
# an existing DIR/CHART (pkg/action/pull.go:164-169). Counts pulls in $0.pulls.
set -eu
[ "$1" = pull ] || exit 64
chart="$2"; dir="$9"
if [ -e "$dir/$chart" ]; then
  echo "Error: failed to untar: a file or directory with the name $dir/$chart already exists" >&2
  exit 1
fi
mkdir -p "$dir/$chart"
printf 'apiVersion: v2\\nname: %s\\nversion: %s\\n' "$chart" "$6" > "$dir/$chart/Chart.yaml"
echo "$chart" >> "$0.pulls"
"""


def test_a_pulled_chart_is_reused_by_every_stack(tmp_path) -> None:
    """`make chart-check` without CHART_SOURCES (the pipelines) pulls each chart once, and the
    next stack's release of the same chart does not pull into the same directory again."""
    helm = tmp_path / "helm"
    helm.write_text(FAKE_HELM_PULL)
    helm.chmod(0o755)
    work = tmp_path / "work"
    release = Release("stack", "stack", "2.0.0", "https://example.com", "monitoring", {})
    first = fetch_chart(release, work, helm=str(helm), sources=None)
    again = fetch_chart(release, work, helm=str(helm), sources=None)
    assert first == again
    assert yaml.safe_load((again / "Chart.yaml").read_text())["name"] == "stack"
    assert (tmp_path / "helm.pulls").read_text() == "stack\n"


CERT_MANAGER_CONTROLLER = {"app.kubernetes.io/name": "cert-manager",
                           "app.kubernetes.io/component": "controller"}  # fmt: skip


def acme_self_check(gateway_ingress_peer: dict) -> Cluster:
    """An HTTP-01 ClusterIssuer, cert-manager's controller allowed out on 80 by selector, and the
    gateway's LoadBalancer admitting `gateway_ingress_peer` on 80."""
    platform = [
        namespace("istio-system", "baseline"),
        namespace("cert-manager"),
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "acme"},
            "spec": {"acme": {"solvers": [{"http01": {"ingress": {"class": "istio"}}}]}},
        },
        policy("default-deny", "istio-system", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        policy(
            "gateway-in",
            "istio-system",
            {
                "podSelector": {"matchLabels": GATEWAY_PODS},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [gateway_ingress_peer], "ports": [{"port": 80}]}],
            },
        ),
    ]
    public = service("istio-ingressgateway", "istio-system", GATEWAY_PODS, 80, 80)
    public["spec"]["type"] = "LoadBalancer"
    charts = {
        "gateway": [
            deployment(
                "gateway", "istio-system", GATEWAY_PODS, [container("proxy", [("http", 80)])]
            ),
            public,
        ],
        "cert-manager": [
            deployment("cert-manager", "cert-manager", CERT_MANAGER_CONTROLLER, [container("c")])
        ],
    }
    return Cluster(platform, charts)


def test_the_http01_self_check_must_reach_the_gateway_pods() -> None:
    """cert-manager v1.21.1 fetches the challenge itself first (pkg/issuer/acme/http/http.go:146);
    in the cluster the public address is the gateway pods, which an ipBlock does not admit."""
    (finding,) = check_services_and_flows(acme_self_check({"ipBlock": {"cidr": "0.0.0.0/0"}}))
    assert finding.subject == "ClusterIssuer acme HTTP-01 self-check"
    assert "cert-manager/Deployment/cert-manager -> istio-system/istio-ingressgateway:80" in (
        finding.problem
    )
    from_controller = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cert-manager"}},
        "podSelector": {"matchLabels": CERT_MANAGER_CONTROLLER},
    }
    assert check_services_and_flows(acme_self_check(from_controller)) == []

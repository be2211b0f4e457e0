"""The flows the platform needs to things no selector can name (the API server, nodes, the
internet), and Prometheus' scrapes, admitted by the rendered NetworkPolicies under plain
Kubernetes semantics and under Cilium's, where an `ipBlock` matches neither nodes nor the API
server (tests/security/network_policy.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from network_policy import Address, Pod, Policies

from infra.prometheus_stack.config import UNREACHABLE_CONTROL_PLANE
from stacks.render import documents, render_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(path.name.split(".")[1] for path in REPO_ROOT.glob("Pulumi.*.yaml"))

RETRAIN_TRIGGER = {
    "app.kubernetes.io/name": "retrain-trigger",
    "app.kubernetes.io/part-of": "mlops-platform",
}
API_SERVER, NODE, INTERNET = Address("api-server"), Address("node"), Address("internet")
PROMETHEUS = Pod("monitoring", {"app.kubernetes.io/name": "prometheus"})
SCRAPES = [
    # What kube-prometheus-stack 77.10.0 still scrapes by default once the control-plane
    # components are off (values.yaml kubeApiServer, kubelet, coreDns, kube-state-metrics,
    # prometheus-node-exporter): the API server on 443 (managed) or 6443 (kubeadm, kind), the
    # kubelets and node-exporter (hostNetwork) on node addresses, CoreDNS' pods.
    (API_SERVER, 443),
    (API_SERVER, 6443),
    (NODE, 10250),
    (NODE, 9100),
    (Pod("kube-system", {"k8s-app": "kube-dns"}), 9153),
    (Pod("monitoring", {"app.kubernetes.io/name": "kube-state-metrics"}), 8080),
]
UNNAMED_PEER_FLOWS = [
    # (source, destination, port): the API server calling admission webhooks, clients and
    # load-balancer health checks at the gateway, pods watching the API server, ACME.
    (API_SERVER, Pod("istio-system", {"app": "istiod"}), 15017),
    (API_SERVER, Pod("seldon-system", {"control-plane": "seldon-controller-manager"}), 9443),
    (API_SERVER, Pod("cert-manager", {"app.kubernetes.io/component": "webhook"}), 10250),
    (API_SERVER, Pod("monitoring", {"app": "kube-prometheus-stack-operator"}), 10250),
    (INTERNET, Pod("istio-system", {"istio": "ingressgateway"}), 443),
    (NODE, Pod("istio-system", {"istio": "ingressgateway"}), 15021),
    (Pod("istio-system", {"app": "istiod"}), API_SERVER, 443),
    (Pod("seldon-system", {"control-plane": "seldon-controller-manager"}), API_SERVER, 6443),
    (Pod("monitoring", {"app.kubernetes.io/name": "kube-state-metrics"}), API_SERVER, 443),
    (Pod("cert-manager", {"app.kubernetes.io/component": "controller"}), API_SERVER, 443),
    (Pod("cert-manager", {"app.kubernetes.io/component": "controller"}), INTERNET, 443),
    (Pod("seldon", RETRAIN_TRIGGER), API_SERVER, 6443),
]


@pytest.fixture(scope="module", params=STACKS)
def rendered(request) -> tuple[str, list[dict], dict]:
    files = documents(render_stack(request.param, REPO_ROOT / f"Pulumi.{request.param}.yaml"))
    objects = [d for name, d in files.items() if "/" not in name]
    return request.param, objects, files["helm-releases/kube-prometheus-stack.yaml"]["values"]


@pytest.mark.parametrize("cilium", [False, True], ids=["kubernetes", "cilium"])
def test_prometheus_reaches_every_target_the_chart_scrapes(rendered, cilium) -> None:
    stack, objects, values = rendered
    policies = Policies(objects, cilium=cilium)
    blocked = [(t, port) for t, port in SCRAPES if not policies.admits(PROMETHEUS, t, port)]
    assert blocked == [], f"{stack}: Prometheus cannot scrape {blocked}: TargetDown would fire"


def test_control_plane_scrapes_nobody_can_reach_are_off_with_their_alerts(rendered) -> None:
    """KubeControllerManagerDown, KubeSchedulerDown, KubeProxyDown and etcdMembersDown come with
    their components' `enabled` (templates/prometheus/rules-1.14/*.yaml:7 @ 77.10.0)."""
    _, _, values = rendered
    assert set(UNREACHABLE_CONTROL_PLANE) == {
        "kubeControllerManager",
        "kubeScheduler",
        "kubeProxy",
        "kubeEtcd",
    }
    for component in UNREACHABLE_CONTROL_PLANE:
        assert values[component] == {"enabled": False}
    assert values.get("coreDns", {}).get("enabled", True) is True


@pytest.mark.parametrize(("source", "destination", "port"), UNNAMED_PEER_FLOWS)
def test_flows_to_what_no_selector_names_hold_under_cilium(rendered, source, destination, port):
    stack, objects, _ = rendered
    assert Policies(objects, cilium=True).admits(source, destination, port), (
        f"{stack}: {source} -> {destination}:{port} refused under Cilium's ipBlock semantics"
    )


def test_no_policy_relies_on_an_ipblock_for_every_address(rendered) -> None:
    _, objects, _ = rendered
    text = json.dumps([d for d in objects if d.get("kind") == "NetworkPolicy"])
    assert '"0.0.0.0/0"' not in text and '"::/0"' not in text


def test_the_evaluator_sees_the_cilium_difference() -> None:
    """The check can fail: an ipBlock-only allow admits the API server under plain Kubernetes
    semantics and not under Cilium's; a selector-only allow admits no address at all."""
    policy = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]}],
        },
    }
    pod = Pod("ns")
    assert Policies([policy], cilium=False).admits(pod, API_SERVER, 443)
    assert not Policies([policy], cilium=True).admits(pod, API_SERVER, 443)
    assert Policies([policy], cilium=True).admits(pod, INTERNET, 443)
    assert not Policies([policy], cilium=False).admits(pod, API_SERVER, 80)
    policy["spec"]["egress"] = [{"ports": [{"port": 443}]}]
    assert Policies([policy], cilium=True).admits(pod, API_SERVER, 443)
    policy["spec"]["egress"] = [{"to": [{"namespaceSelector": {}}]}]
    assert not Policies([policy], cilium=False).admits(pod, API_SERVER, 443)
    assert Policies([policy], cilium=False).admits(pod, Pod("other"), 443)

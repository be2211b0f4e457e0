"""NetworkPolicy semantics (networking.k8s.io/v1), pod to pod: which policies select a pod and
whether they admit a flow. `ipBlock` peers never admit a pod here, as on Cilium, which does not
match pod IPs with them: pod-to-pod allows must name pods by selectors."""

from __future__ import annotations

from ci.chart_check.cluster import Cluster, Pod, matches


def _types(spec: dict) -> list[str]:
    return spec.get("policyTypes") or ["Ingress", *(["Egress"] if "egress" in spec else [])]


def _peer_admits(cluster: Cluster, policy_namespace: str, peer: dict, pod: Pod) -> bool:
    if "ipBlock" in peer:
        return False
    namespace_selector = peer.get("namespaceSelector")
    if namespace_selector is None:
        if pod.namespace != policy_namespace:
            return False
    elif not matches(namespace_selector, cluster.namespace_labels(pod.namespace)):
        return False
    return matches(peer.get("podSelector", {}), pod.labels)


def _rule_admits(cluster: Cluster, namespace: str, rule: dict, peer_key: str, pod: Pod) -> bool:
    """A rule without peers admits every peer."""
    if peer_key not in rule:
        return True
    return any(_peer_admits(cluster, namespace, peer, pod) for peer in rule[peer_key])


def _port_admits(rule_ports: list[dict] | None, destination: Pod, port: int) -> bool:
    if not rule_ports:
        return True
    for entry in rule_ports:
        if entry.get("protocol", "TCP") != "TCP":
            continue
        if "port" not in entry:
            return True
        wanted = entry["port"]
        numbers = destination.ports(wanted) if isinstance(wanted, str) else [wanted]
        if any(n <= port <= entry.get("endPort", n) for n in numbers):
            return True
    return False


def denial(cluster: Cluster, source: Pod, destination: Pod, port: int) -> str | None:
    """Why the policies would drop TCP from `source` to `destination:port`, or None."""
    for direction, pod, peer_pod, key, peer_key in (
        ("Egress", source, destination, "egress", "to"),
        ("Ingress", destination, source, "ingress", "from"),
    ):
        policies = [
            p
            for _, p in cluster.of_kind("NetworkPolicy")
            if p["metadata"]["namespace"] == pod.namespace
            and direction in _types(p["spec"])
            and matches(p["spec"].get("podSelector", {}), pod.labels)
        ]
        if not policies:
            continue
        admitted = any(
            _rule_admits(cluster, pod.namespace, rule, peer_key, peer_pod)
            and _port_admits(rule.get("ports"), destination, port)
            for policy in policies
            for rule in policy["spec"].get(key) or []
        )
        if not admitted:
            names = ", ".join(sorted(p["metadata"]["name"] for p in policies))
            return f"{direction.lower()} of {pod.namespace}/{pod.owner} ({names}) drops it"
    return None

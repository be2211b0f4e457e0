"""Kubernetes NetworkPolicy semantics over rendered objects, to ask "is this flow admitted?".

No CNI runs here, so this reads the policies as the API documents them (networking.k8s.io/v1
NetworkPolicySpec: policies are additive; a pod selected by no policy of a direction is open in
that direction; a rule without peers admits every address, without ports every port), with one
switch for the difference that matters between plugins: `cilium=True` lets an `ipBlock` match
only addresses outside the cluster, never nodes or the API server on them (cilium/cilium#14724,
#28421), as Cilium does by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Address:
    """Something that is not a pod: `node` (kubelets, node-exporter, load-balancer health
    checks), `api-server`, or `internet`."""

    kind: str


Endpoint = Pod | Address


def _selects(selector: dict | None, labels: dict[str, str]) -> bool:
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _types(spec: dict) -> list[str]:
    return spec.get("policyTypes") or ["Ingress", *(["Egress"] if "egress" in spec else [])]


class Policies:
    """Every NetworkPolicy of a render, with the labels of each namespace."""

    def __init__(self, documents: list[dict], *, cilium: bool) -> None:
        self.policies = [d for d in documents if d.get("kind") == "NetworkPolicy"]
        self.cilium = cilium

    def admits(self, source: Endpoint, destination: Endpoint, port: int, protocol="TCP") -> bool:
        """Whether `source` may open `port` on `destination`: its egress and their ingress."""
        return self._side(source, destination, port, protocol, "Egress") and self._side(
            destination, source, port, protocol, "Ingress"
        )

    def _side(self, pod: Endpoint, peer: Endpoint, port: int, protocol: str, kind: str) -> bool:
        if not isinstance(pod, Pod):
            return True  # only pods carry NetworkPolicies
        selecting = [
            p
            for p in self.policies
            if p["metadata"]["namespace"] == pod.namespace
            and _selects(p["spec"].get("podSelector"), pod.labels)
            and kind in _types(p["spec"])
        ]
        if not selecting:
            return True
        key, peers_key = ("egress", "to") if kind == "Egress" else ("ingress", "from")
        return any(
            self._peer_matches(rule.get(peers_key), peer, policy["metadata"]["namespace"])
            and _port_matches(rule.get("ports"), port, protocol)
            for policy in selecting
            for rule in policy["spec"].get(key) or []
        )

    def _peer_matches(self, peers: list[dict] | None, peer: Endpoint, namespace: str) -> bool:
        if not peers:
            return True
        for candidate in peers:
            if "ipBlock" in candidate:
                if isinstance(peer, Address) and (not self.cilium or peer.kind == "internet"):
                    return True
                continue
            if not isinstance(peer, Pod):
                continue
            if "namespaceSelector" in candidate:
                labels = {NAME_LABEL: peer.namespace}
                if not _selects(candidate["namespaceSelector"], labels):
                    continue
            elif peer.namespace != namespace:
                continue
            if _selects(candidate.get("podSelector"), peer.labels):
                return True
        return False


def _port_matches(ports: list[dict] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    return any(
        p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in ports
    )

"""The NetworkPolicies of one platform namespace: default deny, DNS, same-namespace traffic (the
isolated retrain trigger left out), then the namespace's own allows."""

from infra.namespaces.spec import NamespaceSpec
from infra.training.admission import RETRAIN_TRIGGER


def network_policies(spec: NamespaceSpec) -> list[tuple[str, dict]]:
    """Default deny, DNS, same-namespace traffic, then the namespace's own allows."""
    same_namespace = [{"podSelector": {}}]
    not_isolated = {
        "matchExpressions": [
            {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": [RETRAIN_TRIGGER]}
        ]
    }
    dns = {
        "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    policies = [
        ("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        ("allow-dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [dns]}),
        (
            "allow-same-namespace",
            {
                "podSelector": not_isolated,
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": same_namespace}],
                "egress": [{"to": same_namespace}],
            },
        ),
    ]
    for allow in spec.allows:
        peer_key, policy_type = (
            ("from", "Ingress") if allow.direction == "ingress" else ("to", "Egress")
        )
        rule: dict = {peer_key: allow.peers} if allow.peers else {}
        if allow.ports:
            rule["ports"] = allow.ports
        policies.append(
            (
                f"allow-{allow.name}",
                {
                    "podSelector": allow.pod_selector,
                    "policyTypes": [policy_type],
                    allow.direction: [rule],
                },
            )
        )
    return policies

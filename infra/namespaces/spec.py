"""What a platform namespace is: its Pod Security level and the network allows it needs, nothing
more. Each component declares its own namespace with these (its `namespace.py`); pod-to-pod
allows name both namespace and pods."""

from dataclasses import dataclass, field

ANY_PEER: list[dict] = []
"""No peer: the rule admits any address on its ports. For what no selector can name (the API
server, kubelets and node-exporter on node addresses, load-balancer health checks, the
internet). Not `ipBlock: 0.0.0.0/0`: Cilium matches an ipBlock only against addresses outside
the cluster, never nodes (unless `policy-cidr-match-mode: nodes`) nor the API server on them
(cilium/cilium#14724, #28421), whereas a rule without peers becomes a wildcard endpoint
selector there (`ParseNetworkPolicy`, cilium pkg/k8s/network_policy.go: "If this field is empty
or missing, this rule matches all destinations"). Pod-to-pod allows always use selectors."""
KUBE_SYSTEM = "kube-system"
COREDNS_PODS = {"matchLabels": {"k8s-app": "kube-dns"}}
"""CoreDNS' pods (kube-prometheus-stack 77.10.0 templates/exporters/core-dns/service.yaml selects
them by this label; metrics on 9153, values.yaml:1941-1946)."""
API_SERVER_PORTS = [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]
def from_namespace(namespace: str, pods: dict | None = None) -> dict:
    peer: dict = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    if pods:
        peer["podSelector"] = pods
    return peer


def from_namespaces(namespaces: list[str]) -> list[dict]:
    return [from_namespace(namespace) for namespace in namespaces]


def tcp(*ports: int) -> list[dict]:
    return [{"protocol": "TCP", "port": port} for port in ports]


@dataclass(frozen=True)
class Allow:
    """One allow rule: traffic to/from the selected pods of a namespace."""

    name: str
    direction: str  # "ingress" or "egress"
    peers: list[dict]
    ports: list[dict]
    pod_selector: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NamespaceSpec:
    name: str
    pod_security: str
    allows: list[Allow]

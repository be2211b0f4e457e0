"""Platform namespaces: Pod Security Standard labels, default-deny NetworkPolicies and the allows
the platform needs, nothing more. Pod-to-pod allows name both namespace and pods."""

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra.component import PlatformComponent

ISTIO = "istio-system"
SELDON_SYSTEM = "seldon-system"
MONITORING = "monitoring"
MLFLOW = "mlflow"
CERT_MANAGER = "cert-manager"
CNPG_SYSTEM = "cnpg-system"
PLATFORM_NAMESPACES = (ISTIO, SELDON_SYSTEM, MLFLOW, MONITORING, CERT_MANAGER, CNPG_SYSTEM)
"""Namespaces the platform's own components run in; no deployment may use them."""

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
POD_IDENTITY_AGENT = [
    {"ipBlock": {"cidr": "169.254.170.23/32"}},
    {"ipBlock": {"cidr": "fd00:ec2::23/128"}},
]
"""The EKS Pod Identity agent's link-local addresses, on port 80 (AWS EKS user guide,
"Understand how EKS Pod Identity works": 169.254.170.23 and [fd00:ec2::23])."""
MLFLOW_PODS = {"matchLabels": {"app.kubernetes.io/name": "mlflow"}}
REGISTRY_DB_PODS = {"matchExpressions": [{"key": "cnpg.io/cluster", "operator": "Exists"}]}
"""Every pod and Job of a CloudNativePG Cluster, a restored one included (cloudnative-pg v1.30.0
pkg/utils/labels_annotations.go `ClusterLabelName`)."""
CNPG_OPERATOR_PODS = {"matchLabels": {"app.kubernetes.io/name": "cloudnative-pg"}}
"""The operator's pods (chart cloudnative-pg-v0.29.0 templates/_helpers.tpl selectorLabels)."""
CNPG_STATUS_PORT = 8000
CNPG_METRICS_PORT = 9187
CNPG_WEBHOOK_PORT = 9443
"""Instance manager status and metrics ports (pkg/management/url/url.go) and the operator's
webhook (chart values.yaml `webhook.port`)."""
SCHEMA_UPGRADE_PODS = {"matchLabels": {"app.kubernetes.io/name": "mlflow-access"}}

GATEWAY_PODS = {"matchLabels": {"istio": "ingressgateway"}}
CERT_MANAGER_CONTROLLER = {
    "matchLabels": {
        "app.kubernetes.io/name": "cert-manager",
        "app.kubernetes.io/component": "controller",
    }
}
PROMETHEUS_PODS = {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
"""Label the Prometheus Operator puts on Prometheus server pods (prometheus-operator v0.93.0
pkg/prometheus/server/statefulset_test.go)."""
EXECUTOR_HTTP_PORT = 8000
EXECUTOR_GRPC_PORT = 5001
"""The Seldon executor's ports the operator's VirtualService routes to (seldon-core v1.17.1
operator/controllers/seldondeployment_controller.go, DEFAULT_ENGINE_CONTAINER_PORT and
DEFAULT_ENGINE_GRPC_PORT); the model container's 9000 is reached only by its own executor."""
MODEL_METRICS_PORT = 6000
RETRAIN_TRIGGER = "retrain-trigger"
"""The app (`app.kubernetes.io/name`) of the retrain trigger, which creates Jobs: the
same-namespace allow leaves it out, so only the peers its own policy names (Alertmanager) reach
it, not the model pods beside it."""


def _from_namespace(namespace: str, pods: dict | None = None) -> dict:
    peer: dict = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    if pods:
        peer["podSelector"] = pods
    return peer


def _from_namespaces(namespaces: list[str]) -> list[dict]:
    return [_from_namespace(namespace) for namespace in namespaces]


def _tcp(*ports: int) -> list[dict]:
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


def serving_namespace(name: str) -> NamespaceSpec:
    """A namespace of model deployments: the gateway (to the executor only) and Prometheus in,
    MLflow out."""
    return NamespaceSpec(
        name,
        "baseline",
        [
            Allow(
                "executor-from-gateway",
                "ingress",
                [_from_namespace(ISTIO, GATEWAY_PODS)],
                _tcp(EXECUTOR_HTTP_PORT, EXECUTOR_GRPC_PORT),
            ),
            Allow(
                "from-prometheus",
                "ingress",
                [_from_namespace(MONITORING, PROMETHEUS_PODS)],
                _tcp(EXECUTOR_HTTP_PORT, MODEL_METRICS_PORT),
            ),
            Allow("to-mlflow", "egress", [_from_namespace(MLFLOW)], _tcp(5000)),
        ],
    )


def mlflow_credential_egress(ambient_credentials: str | None) -> list[Allow]:
    """The MLflow server's way to its S3 credentials: the Pod Identity agent on the node (IRSA
    needs only STS over 443, already open; the instance metadata service stays closed)."""
    if ambient_credentials != "podIdentity":
        return []
    return [Allow("pod-identity-agent", "egress", POD_IDENTITY_AGENT, _tcp(80), MLFLOW_PODS)]


def registry_database_allows(*, pod_identity: bool) -> list[Allow]:
    """The registry database's pods in the mlflow namespace: the operator and Prometheus in;
    the API server (the instance manager watches its Cluster) and the object store (barman-cloud,
    HTTPS) out; the Pod Identity agent when backups use it. The schema-upgrade Job creates its
    backup through the API server."""
    allows = [
        Allow(
            "registry-db-from-operator",
            "ingress",
            [_from_namespace(CNPG_SYSTEM, CNPG_OPERATOR_PODS)],
            _tcp(CNPG_STATUS_PORT),
            REGISTRY_DB_PODS,
        ),
        Allow(
            "registry-db-from-prometheus",
            "ingress",
            [_from_namespace(MONITORING, PROMETHEUS_PODS)],
            _tcp(CNPG_METRICS_PORT),
            REGISTRY_DB_PODS,
        ),
        Allow("registry-db-api-server", "egress", ANY_PEER, API_SERVER_PORTS, REGISTRY_DB_PODS),
        Allow("registry-db-object-store", "egress", ANY_PEER, _tcp(443), REGISTRY_DB_PODS),
        Allow(
            "schema-upgrade-api-server", "egress", ANY_PEER, API_SERVER_PORTS, SCHEMA_UPGRADE_PODS
        ),
    ]
    if pod_identity:
        allows.append(
            Allow(
                "registry-db-pod-identity", "egress", POD_IDENTITY_AGENT, _tcp(80), REGISTRY_DB_PODS
            )
        )
    return allows


def platform_namespaces(
    serving_namespaces: list[str],
    *,
    mlflow_credentials: str | None = None,
    registry_db_pod_identity: bool = False,
) -> list[NamespaceSpec]:
    """Every namespace the platform owns with its Pod Security level and network allows:
    its own components' namespaces, then each namespace the deployments run in.
    `mlflow_credentials` is MlflowConfig.ambient_credentials; `registry_db_pod_identity` says
    the database's backups reach S3 with EKS Pod Identity."""
    return [
        NamespaceSpec(
            ISTIO,
            "baseline",
            [
                # The public entry point: clients (and load-balancer health checks on 15021).
                Allow(
                    "gateway-from-anywhere", "ingress", ANY_PEER, _tcp(80, 443, 15021), GATEWAY_PODS
                ),
                # cert-manager's HTTP-01 self-check: in the cluster, the public address leads
                # here pod to pod; named by selector so it does not rest on the port-only allow.
                Allow(
                    "gateway-from-cert-manager",
                    "ingress",
                    [_from_namespace(CERT_MANAGER, CERT_MANAGER_CONTROLLER)],
                    _tcp(80),
                    GATEWAY_PODS,
                ),
                # Called by the API server, which is not a pod: no selector can name it.
                Allow(
                    "istiod-webhooks",
                    "ingress",
                    ANY_PEER,
                    _tcp(15017),
                    {"matchLabels": {"app": "istiod"}},
                ),
                Allow(
                    "gateway-to-seldon-executor",
                    "egress",
                    _from_namespaces(serving_namespaces),
                    _tcp(EXECUTOR_HTTP_PORT, EXECUTOR_GRPC_PORT),
                    GATEWAY_PODS,
                ),
                Allow(
                    "gateway-to-mlflow",
                    "egress",
                    [_from_namespace(MLFLOW)],
                    _tcp(5000),
                    GATEWAY_PODS,
                ),
                Allow(
                    "gateway-to-grafana",
                    "egress",
                    [_from_namespace(MONITORING)],
                    _tcp(3000),
                    GATEWAY_PODS,
                ),
                # istiod talks to the API server and fetches the JWT issuer's JWKS.
                Allow(
                    "istiod-jwks-and-api-server",
                    "egress",
                    ANY_PEER,
                    _tcp(443, 6443),
                    {"matchLabels": {"app": "istiod"}},
                ),
            ],
        ),
        NamespaceSpec(
            SELDON_SYSTEM,
            "baseline",
            [
                # Called by the API server, which is not a pod.
                Allow("operator-webhook", "ingress", ANY_PEER, _tcp(4443, 9443)),
                Allow("api-server", "egress", ANY_PEER, API_SERVER_PORTS),
            ],
        ),
        NamespaceSpec(
            MLFLOW,
            "restricted",
            [
                Allow(
                    "from-gateway-and-models",
                    "ingress",
                    [_from_namespace(ISTIO, GATEWAY_PODS), *_from_namespaces(serving_namespaces)],
                    _tcp(5000),
                    MLFLOW_PODS,
                ),
                # An external S3 store (artifactStore s3) is outside the cluster.
                Allow(
                    "external-object-store",
                    "egress",
                    ANY_PEER,
                    _tcp(443),
                    MLFLOW_PODS,
                ),
                *mlflow_credential_egress(mlflow_credentials),
                *registry_database_allows(pod_identity=registry_db_pod_identity),
            ],
        ),
        NamespaceSpec(
            CNPG_SYSTEM,
            "restricted",
            [
                # Called by the API server, which is not a pod.
                Allow("operator-webhook", "ingress", ANY_PEER, _tcp(CNPG_WEBHOOK_PORT)),
                Allow("api-server", "egress", ANY_PEER, API_SERVER_PORTS),
                Allow(
                    "operator-to-registry-db",
                    "egress",
                    [_from_namespace(MLFLOW, REGISTRY_DB_PODS)],
                    _tcp(CNPG_STATUS_PORT),
                    CNPG_OPERATOR_PODS,
                ),
            ],
        ),
        NamespaceSpec(
            MONITORING,
            # node-exporter needs host namespaces, so this namespace cannot be restricted.
            "privileged",
            [
                Allow(
                    "grafana-from-gateway",
                    "ingress",
                    [_from_namespace(ISTIO, GATEWAY_PODS)],
                    _tcp(3000),
                    {"matchLabels": {"app.kubernetes.io/name": "grafana"}},
                ),
                # Called by the API server, which is not a pod.
                Allow("operator-webhook", "ingress", ANY_PEER, _tcp(10250)),
                # The operator, kube-state-metrics and Grafana's sidecar watch the API server.
                Allow("api-server", "egress", ANY_PEER, API_SERVER_PORTS),
                # Kubelets and node-exporter listen on node addresses, which no selector names.
                Allow(
                    "prometheus-to-nodes", "egress", ANY_PEER, _tcp(10250, 9100), PROMETHEUS_PODS
                ),
                # CoreDNS is the one kube-system target the chart still scrapes
                # (infra/prometheus_stack.py turns off the control-plane ones).
                Allow(
                    "prometheus-to-coredns",
                    "egress",
                    [_from_namespace(KUBE_SYSTEM, COREDNS_PODS)],
                    _tcp(9153),
                    PROMETHEUS_PODS,
                ),
                Allow(
                    "prometheus-to-registry-db",
                    "egress",
                    [_from_namespace(MLFLOW, REGISTRY_DB_PODS)],
                    _tcp(CNPG_METRICS_PORT),
                    PROMETHEUS_PODS,
                ),
                Allow(
                    "prometheus-to-seldon",
                    "egress",
                    _from_namespaces(serving_namespaces),
                    _tcp(EXECUTOR_HTTP_PORT, MODEL_METRICS_PORT),
                    PROMETHEUS_PODS,
                ),
            ],
        ),
        NamespaceSpec(
            CERT_MANAGER,
            "restricted",
            [
                # Called by the API server, which is not a pod (chart default webhook.securePort).
                Allow(
                    "webhook",
                    "ingress",
                    ANY_PEER,
                    _tcp(10250),
                    {"matchLabels": {"app.kubernetes.io/component": "webhook"}},
                ),
                Allow("api-server", "egress", ANY_PEER, API_SERVER_PORTS),
                # ACME directory and the HTTP-01 self-check against the public gateway.
                Allow("acme", "egress", ANY_PEER, _tcp(80, 443), CERT_MANAGER_CONTROLLER),
                # The same self-check where the public address leads to the gateway pods
                # inside the cluster (cert-manager v1.21.1 pkg/issuer/acme/http/http.go:146).
                Allow(
                    "acme-self-check",
                    "egress",
                    [_from_namespace(ISTIO, GATEWAY_PODS)],
                    _tcp(80),
                    CERT_MANAGER_CONTROLLER,
                ),
            ],
        ),
        *(serving_namespace(name) for name in serving_namespaces),
    ]


class PlatformNamespaces(PlatformComponent):
    """Creates the platform namespaces with their Pod Security labels and NetworkPolicies."""

    namespaces: dict[str, k8s.core.v1.Namespace]

    def __init__(
        self,
        name: str,
        specs: list[NamespaceSpec],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:cluster:PlatformNamespaces", name, opts)
        self.namespaces = {}
        for spec in specs:
            namespace = k8s.core.v1.Namespace(
                spec.name,
                metadata={
                    "name": spec.name,
                    "labels": {
                        "pod-security.kubernetes.io/enforce": spec.pod_security,
                        "pod-security.kubernetes.io/warn": "restricted",
                        "pod-security.kubernetes.io/audit": "restricted",
                        "app.kubernetes.io/part-of": "mlops-platform",
                    },
                },
                opts=self.child_opts(),
            )
            self.namespaces[spec.name] = namespace
            for policy_name, policy_spec in _policies(spec):
                k8s.networking.v1.NetworkPolicy(
                    f"{spec.name}-{policy_name}",
                    metadata={"name": policy_name, "namespace": spec.name},
                    spec=policy_spec,
                    opts=pulumi.ResourceOptions(parent=namespace),
                )
        self.register_outputs({"namespaces": list(self.namespaces)})


def _policies(spec: NamespaceSpec) -> list[tuple[str, dict]]:
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

"""The monitoring namespace: Grafana from the gateway, Prometheus out to its scrape targets."""

from infra.deployments.config import MODEL_METRICS_PORT
from infra.mesh.config import GATEWAY_PODS
from infra.mesh.config import NAMESPACE as ISTIO
from infra.namespaces.spec import (
    ANY_PEER,
    API_SERVER_PORTS,
    COREDNS_PODS,
    KUBE_SYSTEM,
    Allow,
    NamespaceSpec,
    from_namespace,
    from_namespaces,
    tcp,
)
from infra.prometheus_stack.config import (
    GRAFANA_PODS,
    GRAFANA_PORT,
    NAMESPACE,
    PROMETHEUS_PODS,
    PrometheusStackConfig,
)
from infra.seldon.routing import EXECUTOR_HTTP_PORT


def namespaces(config: PrometheusStackConfig, serving_namespaces: list[str]) -> list[NamespaceSpec]:
    return [
        NamespaceSpec(
            NAMESPACE,
            # node-exporter needs host namespaces, so this namespace cannot be restricted.
            "privileged",
            [
                Allow(
                    "grafana-from-gateway",
                    "ingress",
                    [from_namespace(ISTIO, GATEWAY_PODS)],
                    tcp(GRAFANA_PORT),
                    GRAFANA_PODS,
                ),
                # Called by the API server, which is not a pod.
                Allow("operator-webhook", "ingress", ANY_PEER, tcp(10250)),
                # The operator, kube-state-metrics and Grafana's sidecar watch the API server.
                Allow("api-server", "egress", ANY_PEER, API_SERVER_PORTS),
                # Kubelets and node-exporter listen on node addresses, which no selector names.
                Allow("prometheus-to-nodes", "egress", ANY_PEER, tcp(10250, 9100), PROMETHEUS_PODS),
                # CoreDNS is the one kube-system target the chart still scrapes
                # (infra/prometheus_stack/component.py turns off the control-plane ones).
                Allow(
                    "prometheus-to-coredns",
                    "egress",
                    [from_namespace(KUBE_SYSTEM, COREDNS_PODS)],
                    tcp(9153),
                    PROMETHEUS_PODS,
                ),
                Allow(
                    "prometheus-to-seldon",
                    "egress",
                    from_namespaces(serving_namespaces),
                    tcp(EXECUTOR_HTTP_PORT, MODEL_METRICS_PORT),
                    PROMETHEUS_PODS,
                ),
            ],
        )
    ]

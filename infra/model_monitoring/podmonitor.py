"""The PodMonitor that makes Prometheus scrape a Seldon deployment's executor and model server."""

from infra.model_monitoring.config import MonitoringConfig
from infra.model_monitoring.manifests import PROMETHEUS_RELEASE_LABELS, metadata

SELDON_POD_LABELS = {"app.kubernetes.io/managed-by": "seldon-core"}
"""Label the Seldon operator puts on every pod it manages."""

METRICS_PORT_NAME = "metrics"
"""Container port name of both the executor and the model server's metrics endpoint."""

METRICS_PATH = "/prometheus"
"""Path the operator configures for the executor and the Python wrapper's metrics."""


def pod_monitor(config: MonitoringConfig, *, deployment_name: str, namespace: str) -> dict:
    """PodMonitor selecting the Seldon pods in `namespace` (executor and model metrics)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(
            f"{deployment_name}-seldon-pods", namespace, PROMETHEUS_RELEASE_LABELS
        ),
        "spec": {
            "selector": {"matchLabels": dict(SELDON_POD_LABELS)},
            "namespaceSelector": {"matchNames": [namespace]},
            "podMetricsEndpoints": [
                {
                    "port": METRICS_PORT_NAME,
                    "path": METRICS_PATH,
                    "interval": config.scrape_interval,
                    "scheme": "http",
                }
            ],
        },
    }

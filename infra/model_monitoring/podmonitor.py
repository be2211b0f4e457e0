"""The PodMonitor that makes Prometheus scrape one Seldon deployment's executor and model server."""

from infra.model_monitoring.config import MonitoringConfig
from infra.model_monitoring.manifests import PROMETHEUS_RELEASE_LABELS, metadata

SELDON_DEPLOYMENT_LABEL = "seldon-deployment-id"
"""Label the Seldon operator puts on every pod of a SeldonDeployment, valued with its name (names
of at most 63 characters, as DNS labels are): `Label_seldon_id` in
operator/apis/machinelearning.seldon.io/v1/seldondeployment_types.go and the pod template labels
of `createDeploymentWithoutEngine` in operator/controllers/seldondeployment_controller.go,
SeldonIO/seldon-core v1.17.1."""

METRICS_PORT_NAME = "metrics"
"""Container port name of both the executor and the model server's metrics endpoint."""

METRICS_PATH = "/prometheus"
"""Path the operator configures for the executor and the Python wrapper's metrics."""


def pod_monitor(config: MonitoringConfig, *, deployment_name: str, namespace: str) -> dict:
    """PodMonitor selecting exactly the pods of SeldonDeployment `namespace/deployment_name`."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(
            f"{deployment_name}-seldon-pods", namespace, PROMETHEUS_RELEASE_LABELS
        ),
        "spec": {
            "selector": {"matchLabels": {SELDON_DEPLOYMENT_LABEL: deployment_name}},
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

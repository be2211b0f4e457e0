"""Metadata shared by the monitoring objects: the platform labels and those Prometheus selects."""

PROMETHEUS_RELEASE_LABELS = {"release": "kube-prometheus-stack"}
"""kube-prometheus-stack's default selector label, set although the stack opens its selectors."""

PART_OF_LABELS = {"app.kubernetes.io/part-of": "mlops-platform"}


def metadata(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict:
    """Kubernetes object metadata carrying the platform's labels plus `labels`."""
    return {
        "name": name,
        "namespace": namespace,
        "labels": {**PART_OF_LABELS, **(labels or {})},
    }

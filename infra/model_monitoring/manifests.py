"""Metadata shared by the monitoring objects: the platform labels and those Prometheus selects."""

from infra.labels import PART_OF
from infra.prometheus_stack.config import RELEASE_NAME

PROMETHEUS_RELEASE_LABELS = {"release": RELEASE_NAME}
"""kube-prometheus-stack's default selector label, set although the stack opens its selectors."""

PART_OF_LABELS = PART_OF


def metadata(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict:
    """Kubernetes object metadata carrying the platform's labels plus `labels`."""
    return {
        "name": name,
        "namespace": namespace,
        "labels": {**PART_OF_LABELS, **(labels or {})},
    }

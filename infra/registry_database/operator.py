"""Values of the cloudnative-pg chart (cloudnative-pg/charts tag cloudnative-pg-v0.29.0,
charts/cloudnative-pg/values.yaml)."""

CHART = "cloudnative-pg"
REPOSITORY = "https://cloudnative-pg.github.io/charts"
RELEASE_NAME = "cnpg"


def operator_values(resources: dict) -> dict:
    """The chart's defaults already run the manager non-root, read-only, without privilege
    escalation or capabilities (`containerSecurityContext`, `podSecurityContext`), install the
    CRDs (`crds.create`), both webhooks with `failurePolicy: Fail` and the default monitoring
    queries ConfigMap; the platform adds requests and limits and keeps it cluster-wide (it
    manages the Cluster in the mlflow namespace)."""
    return {
        "resources": resources,
        "config": {"clusterWide": True},
        "crds": {"create": True},
        # The manager's own metrics are not what the alerts read; the instances' are
        # (infra/registry_database/monitoring.py).
        "monitoring": {"podMonitorEnabled": False, "grafanaDashboard": {"create": False}},
    }

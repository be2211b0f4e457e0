"""Scraping of the registry database's instances and the alerts that tell people its backups or
WAL archiving stopped working."""

from infra.model_monitoring.manifests import PROMETHEUS_RELEASE_LABELS, metadata
from infra.registry_database.cluster import CLUSTER, CLUSTER_LABEL

RUNBOOK = "docs/operations.md#"
CLUSTER_SERIES_LABEL = "cnpg_io_cluster"
"""The pod's `cnpg.io/cluster` label on every series, copied by the PodMonitor's
`podTargetLabels` (prometheus-operator sanitizes `.` and `/` to `_`)."""
BACKUP_FAILED_ALERT = "RegistryBackupFailed"
BACKUP_STALE_ALERT = "RegistryBackupStale"
WAL_ARCHIVING_ALERT = "RegistryWalArchivingFailing"
BACKUP_METRICS_ALERT = "RegistryBackupMetricsMissing"
LAST_FAILED = "cnpg_collector_last_failed_backup_timestamp"
LAST_AVAILABLE = "cnpg_collector_last_available_backup_timestamp"
"""Set from the Cluster's status by the primary's instance manager (cloudnative-pg v1.30.0
pkg/management/postgres/webserver/metricserver/pg_collector.go; `lastFailedBackup` is written by
pkg/resources/status/backup.go FlagBackupAsFailed for every failed Backup). Both are 0 until
the first of their kind."""
ARCHIVED_AT = "cnpg_pg_stat_archiver_last_archived_time"
ARCHIVE_FAILED_AT = "cnpg_pg_stat_archiver_last_failed_time"
"""The `pg_stat_archiver` query of the operator's default monitoring queries (chart
cloudnative-pg-v0.29.0 values.yaml `monitoringQueriesConfigMap`), -1 when never."""


def pod_monitor(namespace: str, interval: str = "30s") -> dict:
    """Every instance of the cluster on its `metrics` port (the operator's own `enablePodMonitor`
    is deprecated at 1.30.0, api/v1/cluster_types.go)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(f"{CLUSTER}-instances", namespace, PROMETHEUS_RELEASE_LABELS),
        "spec": {
            "selector": {"matchLabels": {CLUSTER_LABEL: CLUSTER}},
            "namespaceSelector": {"matchNames": [namespace]},
            "podTargetLabels": [CLUSTER_LABEL],
            "podMetricsEndpoints": [{"port": "metrics", "interval": interval, "scheme": "http"}],
        },
    }


def _alert(name: str, expr: str, duration: str, summary: str, namespace: str) -> dict:
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": "critical", "namespace": namespace, "service": "registry"},
        "annotations": {"summary": summary, "runbook": RUNBOOK + name.lower()},
    }


def alert_rules(namespace: str, *, stale_after_hours: int) -> list[dict]:
    """The registry is not recoverable to now: a backup failed, none succeeded for too long,
    WAL is not reaching the store, or nothing reports on backups at all."""
    where = f'{{namespace="{namespace}", {CLUSTER_SERIES_LABEL}="{CLUSTER}"}}'
    return [
        _alert(
            BACKUP_FAILED_ALERT,
            f"max({LAST_FAILED}{where}) > max({LAST_AVAILABLE}{where})",
            "1m",
            "the last base backup of the registry database failed (after the last good one)",
            namespace,
        ),
        _alert(
            BACKUP_STALE_ALERT,
            f"time() - max({LAST_AVAILABLE}{where}) > {stale_after_hours * 3600}",
            "30m",
            f"no base backup of the registry database succeeded for {stale_after_hours} hours",
            namespace,
        ),
        _alert(
            WAL_ARCHIVING_ALERT,
            f"max({ARCHIVE_FAILED_AT}{where}) > max({ARCHIVED_AT}{where})",
            "5m",
            "WAL of the registry database is not reaching the object store: point-in-time "
            "restore stops at the last archived segment",
            namespace,
        ),
        _alert(
            BACKUP_METRICS_ALERT,
            f"absent({LAST_AVAILABLE}{where})",
            "30m",
            "no instance of the registry database reports its backups (not scraped or down)",
            namespace,
        ),
    ]


def prometheus_rule(namespace: str, *, stale_after_hours: int) -> dict:
    """PrometheusRule holding `alert_rules` in one group, beside the database."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata(f"{CLUSTER}-backup-alerts", namespace, PROMETHEUS_RELEASE_LABELS),
        "spec": {
            "groups": [
                {
                    "name": "mlops-registry-database",
                    "rules": alert_rules(namespace, stale_after_hours=stale_after_hours),
                }
            ]
        },
    }

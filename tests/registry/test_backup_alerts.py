"""The failed-backup alerts, evaluated by promtool on the series the database's instances export
(the PodMonitor copies the pod's `cnpg.io/cluster` label as `cnpg_io_cluster`)."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.registry_database.monitoring import prometheus_rule

SERIES = '{namespace="mlflow", cnpg_io_cluster="registry-db", pod="registry-db-1"}'
ALERT_LABELS = {"severity": "critical", "namespace": "mlflow", "service": "registry"}


def _series(name: str, values: str) -> dict:
    return {"series": f"cnpg_{name}{SERIES}", "values": values}


def _annotations(alert: str) -> dict:
    rules = prometheus_rule("mlflow", stale_after_hours=26)["spec"]["groups"][0]["rules"]
    return next(rule["annotations"] for rule in rules if rule["alert"] == alert)


def _fires(alert: str, at: str, labels: dict | None = None) -> dict:
    expected = {"exp_labels": labels or ALERT_LABELS, "exp_annotations": _annotations(alert)}
    return {"eval_time": at, "alertname": alert, "exp_alerts": [expected]}


def _silent(alert: str, at: str) -> dict:
    return {"eval_time": at, "alertname": alert, "exp_alerts": []}


def _promtool(tmp_path: Path, tests: list[dict]) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install Debian's prometheus (.ci/run does)"
    groups = prometheus_rule("mlflow", stale_after_hours=26)["spec"]["groups"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    suite = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", "tests.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("failed", "available", "fires"),
    [("1000x10", "500x10", True), ("1000x10", "2000x10", False), ("0x10", "0x10", False)],
    ids=["failed-after-the-last-good-one", "an-older-failure", "never-any"],
)
def test_a_failed_backup_alerts(tmp_path: Path, failed: str, available: str, fires: bool) -> None:
    series = [
        _series("collector_last_failed_backup_timestamp", failed),
        _series("collector_last_available_backup_timestamp", available),
    ]
    check = _fires if fires else _silent
    _promtool(tmp_path, [{"interval": "1m", "input_series": series,
                          "alert_rule_test": [check("RegistryBackupFailed", "5m")]}])  # fmt: skip


def test_no_good_backup_for_26_hours_alerts(tmp_path: Path) -> None:
    # The last good backup at t=0 s; time() is the evaluation time.
    series = [_series("collector_last_available_backup_timestamp", "0x1700")]
    tests = [
        _silent("RegistryBackupStale", "26h"),
        _silent("RegistryBackupStale", "26h20m"),  # stale, but not yet for 30 minutes
        _fires("RegistryBackupStale", "26h40m"),
    ]
    _promtool(tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": tests}])


def test_failing_wal_archiving_alerts(tmp_path: Path) -> None:
    series = [
        _series("pg_stat_archiver_last_archived_time", "400x10"),
        _series("pg_stat_archiver_last_failed_time", "-1 -1 500x8"),
    ]
    tests = [
        _silent("RegistryWalArchivingFailing", "4m"),
        _fires("RegistryWalArchivingFailing", "8m"),
    ]
    _promtool(tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": tests}])


def test_no_backup_metrics_at_all_alerts(tmp_path: Path) -> None:
    series = [{"series": 'up{job="other"}', "values": "1x60"}]
    tests = [
        _silent("RegistryBackupMetricsMissing", "20m"),
        _fires("RegistryBackupMetricsMissing", "40m",
               {**ALERT_LABELS, "cnpg_io_cluster": "registry-db"}),
    ]  # fmt: skip
    _promtool(tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": tests}])

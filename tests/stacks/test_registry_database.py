"""What each stack declares for the registry database (CloudNativePG): the operator release, the
Cluster with TLS from the platform CA, instances, WAL archiving, scheduled backups with the stack
file's retention, the failed-backup alerts, and the restore command's recovery Cluster, all
checked against the CRDs of the pinned chart (tests/schemas/postgresql.cnpg.io)."""

import datetime
import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from infra.registry_database import cluster as manifests
from infra.stack_config import load_stack_file
from stacks.registry_restore import cluster_plan, new_server_name, set_server_name
from stacks.render import documents

from .conftest import REPO_ROOT, STACKS, stack_file, stack_values

SCHEMAS = REPO_ROOT / "tests" / "schemas" / "postgresql.cnpg.io"
P = "mlops-platform:"


def _validate(document: dict) -> None:
    schema = json.loads((SCHEMAS / f"{document['kind'].lower()}_v1.json").read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(document)


def _by_kind(declared, stack: str) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for document in documents(declared[stack]).values():
        found.setdefault(document.get("kind") or document.get("chart"), []).append(document)
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_the_operator_and_the_cluster_are_declared(declared, stack: str) -> None:
    objects = _by_kind(declared, stack)
    (release,) = objects["cloudnative-pg"]
    assert (release["version"], release["namespace"]) == ("0.29.0", "cnpg-system")
    assert release["values"]["resources"]["requests"]
    (cluster,) = objects["Cluster"]
    _validate(cluster)
    values = stack_values(stack)
    spec = cluster["spec"]
    assert spec["instances"] == values[f"{P}postgresInstances"]
    assert spec["certificates"] == {
        "serverTLSSecret": manifests.SERVER_TLS_SECRET,
        "serverCASecret": manifests.SERVER_TLS_SECRET,
    }
    assert spec["postgresql"]["pg_hba"] == ["hostnossl all all all reject"]
    assert spec["bootstrap"]["initdb"]["secret"]["name"] == manifests.APP_SECRET
    assert not spec["enableSuperuserAccess"]
    (certificate,) = [c for c in objects["Certificate"] if c["metadata"]["namespace"] == "mlflow"]
    assert f"{manifests.CLUSTER}-rw.mlflow.svc" in certificate["spec"]["dnsNames"]
    (mlflow,) = [d for d in objects["Deployment"] if d["metadata"]["name"] == "mlflow"]
    assert "postgres" not in {s["metadata"]["name"] for s in objects.get("StatefulSet", [])}
    assert mlflow


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_backed_up_stacks_archive_wal_and_keep_backups_for_the_stack_files_retention(
    declared, stack: str
) -> None:
    values = stack_values(stack)
    objects = _by_kind(declared, stack)
    (cluster,) = objects["Cluster"]
    backup = cluster["spec"]["backup"]
    assert backup["retentionPolicy"] == values[f"{P}backupRetention"]
    store = backup["barmanObjectStore"]
    assert store["destinationPath"] == f"s3://{values[f'{P}backupBucket']}/registry-db"
    assert store["serverName"] == values[f"{P}backupServerName"]
    assert store["wal"]["compression"] == "gzip"  # WAL archiving is on with the store
    (schedule,) = objects["ScheduledBackup"]
    _validate(schedule)
    assert schedule["spec"]["cluster"] == {"name": manifests.CLUSTER}
    assert schedule["spec"]["method"] == "barmanObjectStore"
    (rule,) = [r for r in objects["PrometheusRule"] if r["metadata"]["namespace"] == "mlflow"]
    alerts = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    assert set(alerts) == {
        "RegistryBackupFailed", "RegistryBackupStale", "RegistryWalArchivingFailing",
        "RegistryBackupMetricsMissing",
    }  # fmt: skip
    docs = (REPO_ROOT / "docs" / "operations.md").read_text().lower()
    for name, alert in alerts.items():
        assert alert["labels"]["severity"] == "critical"
        anchor = alert["annotations"]["runbook"].split("#")[1]
        assert f"#### {name.lower()}" in docs, anchor


def test_prod_runs_a_standby_and_local_takes_no_backups(declared) -> None:
    (prod,) = _by_kind(declared, "prod")["Cluster"]
    assert prod["spec"]["instances"] >= 2
    local = _by_kind(declared, "local")
    assert "backup" not in local["Cluster"][0]["spec"]
    assert "ScheduledBackup" not in local


def test_the_restore_plan_recovers_to_the_target_time_on_a_new_archive() -> None:
    config = load_stack_file(stack_file("prod"))
    name = new_server_name(datetime.datetime(2026, 12, 6, 21, 5, tzinfo=datetime.UTC))
    manifest, commands = cluster_plan(config, "2026-12-06T21:00:00+00:00", name)
    _validate(manifest)
    recovery = manifest["spec"]["bootstrap"]["recovery"]
    assert recovery["recoveryTarget"] == {"targetTime": "2026-12-06T21:00:00+00:00"}
    (source,) = manifest["spec"]["externalClusters"]
    assert source["name"] == recovery["source"] == "registry-db"
    assert source["barmanObjectStore"]["serverName"] == "registry-db"
    assert manifest["spec"]["backup"]["barmanObjectStore"]["serverName"] == name
    verbs = [command[command.index("mlflow") + 1] for command in commands]
    assert verbs == ["scale", "delete", "apply", "wait", "scale"]
    assert commands[1][-2:] == [manifests.CLUSTER, "--wait=true"]


def test_a_restore_never_archives_into_its_own_source() -> None:
    config = load_stack_file(stack_file("prod"))
    with pytest.raises(ValueError, match="archive it is restored from"):
        cluster_plan(config, "2026-12-06T21:00:00+00:00", "registry-db")


def test_the_restore_records_the_new_archive_in_the_stack_file(tmp_path: Path) -> None:
    copy = tmp_path / "Pulumi.prod.yaml"
    shutil.copy(stack_file("prod"), copy)
    set_server_name(copy, "registry-db-202612062105")
    config = load_stack_file(copy)
    assert config.registry_database.backup_server_name == "registry-db-202612062105"

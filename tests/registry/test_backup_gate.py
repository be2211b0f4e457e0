"""The schema upgrade runs only after a backup: `infra/scripts/registry_backup_gate.py`.

The pg_dump path against a real PostgreSQL server (Debian's): a good dump lets the upgrade
command run; a dump that fails (wrong credentials) refuses it, and the command never starts.
The CloudNativePG path against an API double (no cluster here): a Backup whose phase reaches
`completed` lets the upgrade run, `failed` or a timeout refuses it.
"""

import importlib.util
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.mlflow.component import BACKUP_GATE_SCRIPT
from localrun.postgres_server import PostgresServer, bin_dir, hand_over
from localrun.process_group import free_port

spec = importlib.util.spec_from_file_location("registry_backup_gate", BACKUP_GATE_SCRIPT)
gate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gate)


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[PostgresServer, str]]:
    root = Path(tempfile.mkdtemp(prefix="backup-gate-"))
    root.chmod(0o711)
    server = PostgresServer(root / "data", root / "wal-archive", free_port())
    server.init()
    server.start()
    try:
        password = secrets.token_urlsafe(24)
        server.execute(f"CREATE ROLE mlflow LOGIN PASSWORD '{password}'")
        server.execute("CREATE DATABASE mlflow OWNER mlflow")
        server.execute(
            "CREATE TABLE alembic_version (version_num text);"
            "ALTER TABLE alembic_version OWNER TO mlflow",
            database="mlflow",
        )
        yield server, password
    finally:
        server.stop("immediate")
        hand_over(root)


def _gated(tmp_path: Path, backend_uri: str) -> tuple[subprocess.CompletedProcess, Path, Path]:
    """The gate with pg_dump, then an 'upgrade' that leaves a marker file."""
    dump, marker = tmp_path / "pre-upgrade.dump", tmp_path / "upgraded"
    upgrade = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]
    completed = subprocess.run(
        [sys.executable, str(BACKUP_GATE_SCRIPT), "--pg-dump", str(dump), "--", *upgrade],
        env={**os.environ, "MLFLOW_BACKEND_STORE_URI": backend_uri,
             "PATH": f"{bin_dir()}:{os.environ['PATH']}"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return completed, dump, marker


def test_a_good_dump_lets_the_upgrade_run(database, tmp_path: Path) -> None:
    server, password = database
    completed, dump, marker = _gated(tmp_path, server.dsn("mlflow", password, "mlflow"))
    assert completed.returncode == 0, completed.stderr
    assert marker.exists()
    listing = subprocess.run(
        [str(bin_dir() / "pg_restore"), "--list", str(dump)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "TABLE public alembic_version" in listing.stdout


def test_a_failed_dump_refuses_the_upgrade(database, tmp_path: Path) -> None:
    server, _ = database
    completed, _, marker = _gated(tmp_path, server.dsn("mlflow", "not-the-password", "mlflow"))
    assert completed.returncode == gate.REFUSED
    assert "refusing the schema upgrade" in completed.stderr
    assert "password authentication failed" in completed.stderr
    assert not marker.exists()


class ApiDouble:
    """Answers the gate's Kubernetes API calls: the POST, then each GET with the next phase."""

    def __init__(self, phases: list[str]) -> None:
        self.phases = phases
        self.calls: list[tuple[str, str, dict | None]] = []

    def __call__(self, method: str, path: str, body: dict | None = None) -> dict:
        self.calls.append((method, path, body))
        if method == "POST":
            return body
        return {"status": {"phase": self.phases.pop(0), "backupId": "20261206T210000"}}


@pytest.fixture
def service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "namespace").write_text("mlflow\n")
    monkeypatch.setattr(gate, "SERVICE_ACCOUNT", tmp_path)
    monkeypatch.setattr(gate, "POLL_S", 0)


def test_cnpg_backup_completed_lets_the_upgrade_run_api_double(service_account) -> None:
    api = ApiDouble(["pending", "running", "completed"])
    assert "completed" in gate.cnpg_backup("registry-db-pre-upgrade-abc", 60, api=api)
    method, path, body = api.calls[0]
    assert (method, path) == ("POST", "/apis/postgresql.cnpg.io/v1/namespaces/mlflow/backups")
    assert body["spec"] == {"method": "barmanObjectStore", "cluster": {"name": "registry-db"}}
    assert [call[0] for call in api.calls] == ["POST", "GET", "GET", "GET"]


@pytest.mark.parametrize("phase", ["failed", "walArchivingFailing"])
def test_cnpg_backup_failed_refuses_the_upgrade_api_double(service_account, phase) -> None:
    with pytest.raises(gate.BackupFailed, match=phase):
        gate.cnpg_backup("registry-db-pre-upgrade-abc", 60, api=ApiDouble(["running", phase]))


def test_cnpg_backup_that_never_completes_refuses_the_upgrade_api_double(service_account) -> None:
    with pytest.raises(gate.BackupFailed, match="did not complete"):
        gate.cnpg_backup("registry-db-pre-upgrade-abc", 0, api=ApiDouble([]))

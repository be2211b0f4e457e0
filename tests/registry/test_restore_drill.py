"""The restore drill: the registry survives the loss of its database's disk.

Real parts: Debian's PostgreSQL (initdb/pg_ctl, as the `postgres` user when the suite runs as
root), archiving every WAL segment with `archive_command`; a real `mlflow server --app-name
platform-auth` on it (tracking, registry and user stores in the one database, as deployed);
`python -m model train/promote/rollback/history` (the signed promotion ledger); MLflow's user API.

The drill: register two versions, promote both (the alias moves, the ledger records it), create
a user; take a tar base backup (`pg_basebackup`, before those writes, as the nightly backup
would be) with the WAL archived continuously; note the time T; then a bad change after T (a
rollback, a user nobody wanted); then the disk is lost (server killed, data directory deleted).
`python -m stacks.registry_restore local` rebuilds a fresh data directory from the base backup
and replays the archived WAL up to T; MLflow starts on it again. Everything written before T is
back, nothing after T is, and MLflow serves the champion's files with their recorded digest.
The logical path: a `pg_dump` at T restored with `pg_restore` holds the same registry rows.

What CloudNativePG does in the cluster (barman-cloud to the object store, `recovery` bootstrap)
is the same format and the same PostgreSQL recovery: a tar base backup plus WAL segments,
`restore_command` and `recovery_target_time`. Not exercised here: the object store and
barman-cloud's own tools, the operator (no cluster).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from infra.mlflow.auth import served_versions_json
from localrun.postgres_server import PostgresServer, bin_dir
from localrun.process_group import free_port
from model.cli import main
from stacks.registry_restore import base_backup
from tests.security.route_calls import platform_denied
from tests.support.mlflow_server import (
    LEDGER_KEY,
    LEDGER_KEY_ENV,
    REPO_ROOT,
    download_model,
    platform_auth_env,
    platform_auth_server,
    platform_logins,
    run_access_script,
    served_versions_file,
)

pytestmark = pytest.mark.timeout(1500)
"""The whole drill is one module fixture: two MLflow server starts, two trainings and five
ledger steps. Measured 735 s (load average 14-16 on 2 cores) and 524 s (load 12) before MLflow's
credential cache; with it 74 s (load 5-7) and 32 s alone. The suite's 600 s per test would cut a
loaded run."""

MODEL = "iris"
ARCHIVE_WAIT_S = 60
NARROW_IDENTITIES = ("request-log",)
"""Logins the platform auth app allows only their own artifact paths (not `users/current`)."""
REGISTRY_TABLES = ("registered_models", "model_versions", "model_version_tags",
                   "registered_model_aliases", "experiment_tags", "users")  # fmt: skip


@dataclass
class Snapshot:
    """What the registry says, read through MLflow and the model CLI."""

    versions: dict[str, str]
    aliases: dict[str, str]
    ledger: list[dict]
    users: set[str]


@dataclass
class Drill:
    root: Path
    port: int
    backend_uri: str
    env: dict[str, str]
    logins: dict
    url: str = ""
    before: Snapshot | None = None
    after_restore: Snapshot | None = None
    target_time: str = ""
    bad_change: dict[str, Any] = field(default_factory=dict)
    restored: PostgresServer | None = None


@contextlib.contextmanager
def _logged_in(**env: str) -> Iterator[None]:
    """MLflow's client reads its login from the environment: set it, then put it back."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _cli(drill: Drill, *args: str) -> dict:
    """`python -m model ...` as the pipeline user, the release path holding the ledger key (in
    this process: a fresh interpreter per step would cost more than the step)."""
    login = drill.logins["pipeline"]
    out = io.StringIO()
    with _logged_in(MLFLOW_TRACKING_USERNAME=login.username,
                    MLFLOW_TRACKING_PASSWORD=login.password,
                    **{LEDGER_KEY_ENV: LEDGER_KEY}), contextlib.redirect_stdout(out):  # fmt: skip
        code = main([*args, "--model-name", MODEL, "--json", "--tracking-uri", drill.url])
    assert code == 0, f"model {args[0]}: {out.getvalue()}"
    return json.loads(out.getvalue())


def _admin(drill: Drill) -> tuple[str, str]:
    login = drill.logins["admin"]
    return (login.username, login.password)


def _create_user(drill: Drill, username: str) -> None:
    answer = requests.post(
        f"{drill.url}/api/2.0/mlflow/users/create",
        json={"username": username, "password": secrets.token_urlsafe(16)},
        auth=_admin(drill),
        timeout=30,
    )
    answer.raise_for_status()


def _user_exists(drill: Drill, username: str) -> bool:
    answer = requests.get(
        f"{drill.url}/api/2.0/mlflow/users/get",
        params={"username": username},
        auth=_admin(drill),
        timeout=30,
    )
    assert answer.status_code in (200, 404), answer.text
    return answer.status_code == 200


def _snapshot(drill: Drill, users: tuple[str, ...]) -> Snapshot:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=drill.url, registry_uri=drill.url)
    with _logged_in(MLFLOW_TRACKING_USERNAME=_admin(drill)[0],
                    MLFLOW_TRACKING_PASSWORD=_admin(drill)[1]):  # fmt: skip
        model = client.get_registered_model(MODEL)
        versions = {
            v.version: v.tags.get("model_digest", "")
            for v in client.search_model_versions(f"name='{MODEL}'")
        }
    history = _cli(drill, "history")
    assert history["rejected"] == [], "ledger entries failed their signature check"
    return Snapshot(
        versions=versions,
        aliases=dict(model.aliases),
        ledger=history["history"],
        users={name for name in users if _user_exists(drill, name)},
    )


def _archived_up_to(server: PostgresServer, wal_file: str) -> None:
    """Wait until the archiver has shipped `wal_file` (a readiness check, not a sleep)."""
    deadline = time.monotonic() + ARCHIVE_WAIT_S
    while time.monotonic() < deadline:
        if (server.archive_dir / wal_file).exists():
            return
        time.sleep(0.1)
    raise AssertionError(f"{wal_file} never reached the archive {server.archive_dir}")


def _registry_rows(dsn: str) -> dict[str, list]:
    with psycopg.connect(dsn) as connection:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in REGISTRY_TABLES
        }


@pytest.fixture(scope="module")
def drill() -> Iterator[Drill]:
    root = Path(tempfile.mkdtemp(prefix="registry-drill-"))
    root.chmod(0o711)  # the server user reaches its own directories below
    port = free_port()
    server = PostgresServer(root / "data", root / "wal-archive", port)
    server.init()
    server.start()
    password = secrets.token_urlsafe(24)
    server.execute(f"CREATE ROLE mlflow LOGIN PASSWORD '{password}'")
    server.execute("CREATE DATABASE mlflow OWNER mlflow")
    backend_uri = server.dsn("mlflow", password, "mlflow")
    logins = platform_logins()
    mlflow_root = root / "mlflow"
    mlflow_root.mkdir()
    env = platform_auth_env(mlflow_root, backend_uri, logins)
    run_access_script(mlflow_root, env, logins, (MODEL,))
    drill = Drill(root, free_port(), backend_uri, env, logins)
    drill.url = f"http://127.0.0.1:{drill.port}"
    mlflow = platform_auth_server(mlflow_root, env, backend_uri, drill.port)
    try:
        # The nightly base backup: the schemas and users exist, none of what follows does.
        base_backup(port, root / "base")
        with mlflow:
            _create_user(drill, "auditor")
            _cli(drill, "train")
            _cli(drill, "promote")
            _cli(drill, "train", "--seed", "7")
            _cli(drill, "promote", "--version", "2", "--force", "--reason", "restore drill")
            drill.before = _snapshot(drill, ("auditor", "latecomer"))
            drill.target_time = server.execute("SELECT clock_timestamp()")[0][0].isoformat()
            subprocess.run(
                [str(bin_dir() / "pg_dump"), "-h", "127.0.0.1", "-p", str(port), "-U",
                 "postgres", "--format=custom", "-f", str(root / "logical.dump"), "mlflow"],
                check=True, capture_output=True,
            )  # fmt: skip
            # After T: what the restore must not bring back.
            drill.bad_change["rollback"] = _cli(drill, "rollback")
            _create_user(drill, "latecomer")
            segment = server.execute("SELECT pg_walfile_name(pg_switch_wal())")[0][0]
            _archived_up_to(server, segment)
        server.destroy()
        assert not server.data_dir.exists()

        restored = PostgresServer(root / "restored", root / "restored-archive", port)
        completed = subprocess.run(
            [sys.executable, "-m", "stacks.registry_restore", "local",
             "--base-backup", str(root / "base"), "--wal-archive", str(server.archive_dir),
             "--target-time", drill.target_time, "--data-dir", str(restored.data_dir),
             "--archive-to", str(restored.archive_dir)],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr
        restored.start()
        drill.restored = restored
        deadline = time.monotonic() + ARCHIVE_WAIT_S
        while restored.execute("SELECT pg_is_in_recovery()")[0][0]:
            assert time.monotonic() < deadline, "the restored server never left recovery"
            time.sleep(0.1)
        with platform_auth_server(mlflow_root, env, backend_uri, drill.port):
            drill.after_restore = _snapshot(drill, ("auditor", "latecomer"))
            champion = drill.after_restore.aliases["champion"]
            # The deploy pins the restored champion: its served-versions list names it.
            served_versions_file(mlflow_root).write_text(served_versions_json([(MODEL, champion)]))
            serving = drill.logins["serving"]
            with _logged_in(MLFLOW_TRACKING_USERNAME=serving.username,
                            MLFLOW_TRACKING_PASSWORD=serving.password):  # fmt: skip
                drill.bad_change["download"] = download_model(
                    drill.url,
                    {"model_name": MODEL, "version": champion},
                    root / "downloaded",
                )
            yield drill
    finally:
        for pg in (server, drill.restored):
            if pg is not None and pg.data_dir.exists():
                pg.stop("immediate")
        shutil.rmtree(root)


def test_versions_and_digests_are_back(drill: Drill) -> None:
    assert drill.before.versions.keys() == {"1", "2"}
    assert all(digest.startswith("sha256:") for digest in drill.before.versions.values())
    assert drill.after_restore.versions == drill.before.versions


def test_aliases_are_back_as_they_were_at_the_target_time(drill: Drill) -> None:
    assert drill.before.aliases["champion"] == "2"
    # The rollback after T moved champion back to 1; the restore stops before it.
    assert drill.bad_change["rollback"]
    assert drill.after_restore.aliases == drill.before.aliases


def test_the_signed_ledger_is_back_entry_for_entry(drill: Drill) -> None:
    actions = [entry["action"] for entry in drill.before.ledger]
    assert actions.count("promote") == 2, actions
    assert drill.after_restore.ledger == drill.before.ledger  # every signature verified


def test_users_are_back_and_later_ones_are_not(drill: Drill) -> None:
    assert drill.before.users == {"auditor"}
    assert drill.after_restore.users == {"auditor"}
    for role, login in drill.logins.items():
        answer = requests.get(
            f"{drill.url}/api/2.0/mlflow/users/current",
            auth=(login.username, login.password),
            timeout=30,
        )
        if role in NARROW_IDENTITIES:
            # Logged in (a wrong password is MLflow's 401), then refused by the platform's rules.
            assert platform_denied(answer), (login.username, answer.status_code, answer.text)
        else:
            assert answer.status_code == 200, (login.username, answer.text)


def test_mlflow_serves_the_restored_champion_with_its_digest(drill: Drill) -> None:
    from model.digest import model_digest

    champion = drill.after_restore.aliases["champion"]
    assert model_digest(Path(drill.bad_change["download"])) == drill.before.versions[champion]


def test_the_logical_dump_holds_the_same_registry(drill: Drill) -> None:
    restored = drill.restored
    restored.execute("CREATE DATABASE mlflow_logical")
    subprocess.run(
        [str(bin_dir() / "pg_restore"), "-h", "127.0.0.1", "-p", str(restored.port), "-U",
         "postgres", "--no-owner", "-d", "mlflow_logical", str(drill.root / "logical.dump")],
        check=True, capture_output=True,
    )  # fmt: skip
    point_in_time = _registry_rows(drill.backend_uri)
    logical = _registry_rows(
        f"host=127.0.0.1 port={restored.port} user=postgres dbname=mlflow_logical"
    )
    assert logical == point_in_time
    assert any(row for row in point_in_time["registered_model_aliases"])

"""Back up the registry database, then run the schema upgrade; no backup, no upgrade.

Runs in the MLflow image before `mlflow_access.py` (which runs `mlflow db upgrade`), with the
standard library only:

  registry_backup_gate.py --cnpg-backup NAME [--timeout S] -- COMMAND...
      In the cluster: creates the CloudNativePG Backup NAME (postgresql.cnpg.io/v1, method
      barmanObjectStore, cluster registry-db) in the pod's namespace through the API server
      with the pod's ServiceAccount token, and waits for its `status.phase`: `completed` runs
      COMMAND, `failed` or no completion within the timeout refuses (exit 3). A Backup of that
      name left by an earlier attempt of the same Job is waited on, not created again
      (cloudnative-pg v1.30.0 api/v1/backup_types.go: phases pending, started, running,
      finalizing, completed, failed, walArchivingFailing).
  registry_backup_gate.py --pg-dump FILE -- COMMAND...
      Without the operator: `pg_dump --format=custom` of $MLFLOW_BACKEND_STORE_URI into FILE;
      a failed or empty dump refuses (exit 3).
"""

import argparse
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
API = "https://kubernetes.default.svc"
CLUSTER = "registry-db"
REFUSED = 3
POLL_S = 5.0


class BackupFailed(Exception):
    """The backup did not complete: the upgrade must not run."""


def _api(method: str, path: str, body: dict | None = None) -> dict:
    token = (SERVICE_ACCOUNT / "token").read_text()
    context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt"))
    request = urllib.request.Request(
        f"{os.environ.get('KUBERNETES_API', API)}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:
        return json.load(answer)


def cnpg_backup(name: str, timeout_s: float, api=_api) -> str:
    """Create (or find) Backup `name` and wait until it completes; its phase history."""
    namespace = (SERVICE_ACCOUNT / "namespace").read_text().strip()
    path = f"/apis/postgresql.cnpg.io/v1/namespaces/{namespace}/backups"
    manifest = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Backup",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"method": "barmanObjectStore", "cluster": {"name": CLUSTER}},
    }
    try:
        api("POST", path, manifest)
    except urllib.error.HTTPError as error:
        if error.code != 409:  # 409: created by an earlier attempt of this Job
            raise BackupFailed(f"cannot create Backup {name}: HTTP {error.code}") from None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = api("GET", f"{path}/{name}").get("status", {})
        phase = status.get("phase", "")
        if phase == "completed":
            return f"Backup {name} completed (backupId {status.get('backupId', '?')})"
        if phase in ("failed", "walArchivingFailing"):
            raise BackupFailed(f"Backup {name} {phase}: {status.get('error', 'no reason given')}")
        time.sleep(POLL_S)
    raise BackupFailed(f"Backup {name} did not complete within {timeout_s:.0f} s")


def pg_dump(destination: Path) -> str:
    """A custom-format dump of the backend store; refused unless pg_dump succeeds."""
    uri = os.environ["MLFLOW_BACKEND_STORE_URI"]
    result = subprocess.run(
        ["pg_dump", "--format=custom", f"--file={destination}", f"--dbname={uri}"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BackupFailed(f"pg_dump failed ({result.returncode}): {result.stderr.strip()}")
    if not destination.is_file() or destination.stat().st_size == 0:
        raise BackupFailed(f"pg_dump wrote nothing to {destination}")
    return f"pg_dump wrote {destination.stat().st_size} bytes to {destination}"


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: registry_backup_gate.py (--cnpg-backup NAME | --pg-dump FILE) -- "
              "COMMAND...", file=sys.stderr)  # fmt: skip
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--cnpg-backup", metavar="NAME")
    how.add_argument("--pg-dump", metavar="FILE", type=Path)
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    try:
        if args.cnpg_backup:
            done = cnpg_backup(args.cnpg_backup, args.timeout)
        else:
            done = pg_dump(args.pg_dump)
    except BackupFailed as error:
        print(f"refusing the schema upgrade: no backup of the registry ({error})",
              file=sys.stderr)  # fmt: skip
        return REFUSED
    print(f"{done}; running the schema upgrade", file=sys.stderr)
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

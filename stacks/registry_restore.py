"""Restore the registry database to a point in time, on fresh volumes.

  python -m stacks.registry_restore cluster --stack prod --target-time 2026-12-06T21:00:00Z \
      [--apply]
      On the stack's cluster (its kubeconfigContext): stop MLflow, delete the registry's
      CloudNativePG Cluster (its volumes go with it), create it again bootstrapped from
      `recovery` (the last base backup before the target time plus the archived WAL, replayed
      up to `recoveryTarget.targetTime`), wait until it is ready, start MLflow again on it, then
      set the stack file's `backupServerName` to the new archive folder (commit it; the next
      `make up` keeps the restored Cluster). Without --apply it only prints the manifest and
      the kubectl commands.

  python -m stacks.registry_restore local --base-backup DIR --wal-archive DIR \\
      --target-time 2026-12-06T21:00:00Z --data-dir NEW [--archive-to DIR]
      Here, with Debian's PostgreSQL: a fresh data directory from a `pg_basebackup` tar base
      backup and a WAL archive (the format barman-cloud keeps in the object store: a tar base
      backup plus WAL segments), set to replay the WAL up to the target time and promote. Start
      it with `pg_ctl -D NEW start`. This is what the restore drill runs (tests/registry/).
"""

import argparse
import datetime
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from infra.mlflow.config import NAMESPACE as MLFLOW
from infra.registry_database import cluster as registry_db
from infra.registry_database.config import RegistryDatabaseConfig
from infra.registry_database.sizing import SIZING as REGISTRY_DATABASE_SIZING
from infra.stack_config import StackConfig, load_stack_file
from localrun.postgres_server import SERVER_USER, bin_dir, hand_over

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_NAME_KEY = re.compile(r"^(  mlops-platform:backupServerName:).*$", re.MULTILINE)


def rfc3339(text: str) -> str:
    """`text` as an RFC 3339 time with its offset (what `targetTime` and PostgreSQL read)."""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time; expected RFC 3339, e.g. 2026-12-06T21:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no offset; say which zone, e.g. 2026-12-06T21:00:00Z"
        )
    return moment.isoformat()


# --- here: a data directory from a tar base backup and a WAL archive ----------------------


def base_backup(port: int, destination: Path) -> Path:
    """A tar base backup of the server on 127.0.0.1:`port`, without WAL (the archive holds it,
    as barman-cloud-backup leaves WAL to barman-cloud-wal-archive); waits until the WAL the
    backup needs has been archived."""
    subprocess.run(
        [str(bin_dir() / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(port), "-U", SERVER_USER,
         "-D", str(destination), "--format=tar", "--gzip", "--wal-method=none",
         "--checkpoint=fast", "--no-sync"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return destination


def restore_data_dir(
    *, base: Path, wal_archive: Path, target_time: str, data_dir: Path, archive_to: Path
) -> None:
    """`data_dir` (new, empty) set up to recover to `target_time` and then promote, archiving
    its own WAL into `archive_to` from then on (never into the archive it restores from)."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise SystemExit(f"{data_dir} is not empty: restore into a fresh directory")
    if archive_to.resolve() == wal_archive.resolve():
        raise SystemExit("--archive-to must differ from --wal-archive (the restored server "
                         "must not write into the archive it restores from)")  # fmt: skip
    data_dir.mkdir(parents=True, exist_ok=True)
    archive_to.mkdir(parents=True, exist_ok=True)
    with tarfile.open(base / "base.tar.gz") as archive:
        archive.extractall(data_dir, filter="data")
    (data_dir / "pg_wal").mkdir(exist_ok=True)
    with (data_dir / "postgresql.auto.conf").open("a") as conf:
        conf.write(
            f"restore_command = 'cp {wal_archive}/%f %p'\n"
            f"recovery_target_time = '{target_time}'\n"
            "recovery_target_action = 'promote'\n"
            f"archive_command = 'test ! -f {archive_to}/%f && cp %p {archive_to}/%f'\n"
        )
    (data_dir / "recovery.signal").touch()
    data_dir.chmod(0o700)
    hand_over(data_dir)
    hand_over(archive_to)


# --- on the cluster: a CloudNativePG Cluster bootstrapped from recovery --------------------


def new_server_name(now: datetime.datetime) -> str:
    return f"{registry_db.CLUSTER}-{now:%Y%m%d%H%M}"


def cluster_plan(config: StackConfig, target_time: str, server_name: str) -> tuple[dict, list]:
    """The recovery Cluster and the kubectl commands that put it in place of the current one."""
    database: RegistryDatabaseConfig = config.registry_database
    if not database.registry_backups:
        raise SystemExit("this stack takes no backups (registryBackups false): nothing to restore")
    restored = database.model_copy(update={"backup_server_name": server_name})
    manifest = registry_db.recovery_cluster(
        restored,
        registry_db.Placement(
            config.cluster.storage_class or None,
            config.sizing.pick(REGISTRY_DATABASE_SIZING).instance,
        ),
        MLFLOW,
        source_server=database.backup_server_name,
        target_time=target_time,
    )
    context = (
        ["--context", config.cluster.kubeconfig_context]
        if config.cluster.kubeconfig_context
        else []
    )  # noqa: E501
    kubectl = ["kubectl", *context, "--namespace", MLFLOW]
    commands = [
        [*kubectl, "scale", "deployment/mlflow", "--replicas=0"],
        [*kubectl, "delete", "cluster", registry_db.CLUSTER, "--wait=true"],
        [*kubectl, "apply", "-f", "-"],
        [*kubectl, "wait", f"cluster/{registry_db.CLUSTER}", "--for=condition=Ready",
         "--timeout=60m"],
        [*kubectl, "scale", "deployment/mlflow", f"--replicas={config.mlflow.mlflow_replicas}"],
    ]  # fmt: skip
    return manifest, commands


def set_server_name(stack_file: Path, server_name: str) -> None:
    text = stack_file.read_text()
    edited, count = SERVER_NAME_KEY.subn(rf"\g<1> {server_name}", text)
    if count != 1:
        raise SystemExit(f"{stack_file}: expected one 'mlops-platform:backupServerName:' line")
    stack_file.write_text(edited)


def restore_on_cluster(stack: str, target_time: str, apply: bool) -> None:
    stack_file = REPO_ROOT / f"Pulumi.{stack}.yaml"
    server_name = new_server_name(datetime.datetime.now(datetime.UTC))
    manifest, commands = cluster_plan(load_stack_file(stack_file), target_time, server_name)
    document = yaml.safe_dump(manifest, sort_keys=False)
    if not apply:
        print(document)
        print("# would run, the manifest above on stdin of `apply`:")
        for command in commands:
            print(" ".join(command))
        print(f"# then set backupServerName: {server_name} in {stack_file.name}")
        return
    for command in commands:
        subprocess.run(command, input=document if "apply" in command else None, text=True,
                       check=True)  # fmt: skip
    set_server_name(stack_file, server_name)
    print(
        f"restored to {target_time}; MLflow is back; archiving as {server_name} "
        f"({stack_file.name} updated: commit it before the next `make up STACK={stack}`)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="where", required=True)
    on_cluster = commands.add_parser("cluster", help="restore the stack's registry database")
    on_cluster.add_argument("--stack", required=True)
    on_cluster.add_argument("--target-time", required=True, type=rfc3339)
    on_cluster.add_argument("--apply", action="store_true", help="run it (default: print)")
    local = commands.add_parser("local", help="restore a local base backup plus WAL archive")
    local.add_argument("--base-backup", required=True, type=Path)
    local.add_argument("--wal-archive", required=True, type=Path)
    local.add_argument("--target-time", required=True, type=rfc3339)
    local.add_argument("--data-dir", required=True, type=Path)
    local.add_argument("--archive-to", type=Path, help="default: <data-dir>-archive")
    args = parser.parse_args(argv)
    if args.where == "cluster":
        restore_on_cluster(args.stack, args.target_time, args.apply)
        return
    restore_data_dir(
        base=args.base_backup,
        wal_archive=args.wal_archive,
        target_time=args.target_time,
        data_dir=args.data_dir,
        archive_to=args.archive_to or args.data_dir.with_name(f"{args.data_dir.name}-archive"),
    )
    print(f"{args.data_dir} recovers to {args.target_time} when started "
          f"(pg_ctl -D {args.data_dir} start)", file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()

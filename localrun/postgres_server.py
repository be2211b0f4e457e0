"""A real PostgreSQL server in a directory of its own, started with Debian's `pg_ctl`, archiving
its WAL the way the registry database does (continuous `archive_command`).

PostgreSQL refuses to run as root: when this process is root, the server's commands run as the
`postgres` user (`runuser`), and the directories they write are handed to that user.
"""

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import psycopg

SERVER_USER = "postgres"
BIN_ROOT = Path("/usr/lib/postgresql")


def bin_dir() -> Path:
    """The newest installed server's binaries (Debian's `postgresql-<major>` layout)."""
    majors = sorted(
        (path for path in BIN_ROOT.glob("*/bin") if (path / "pg_ctl").exists()),
        key=lambda path: int(path.parent.name),
    )
    if not majors:
        raise RuntimeError(
            f"no PostgreSQL server under {BIN_ROOT}: install Debian's `postgresql` "
            "(apt-get install postgresql)"
        )
    return majors[-1]


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


def hand_over(path: Path) -> None:
    """Make `path` (recursively) the server user's, when we are root."""
    if os.geteuid() != 0:
        return
    user = pwd.getpwnam(SERVER_USER)
    for root, dirs, files in os.walk(path):
        os.chown(root, user.pw_uid, user.pw_gid)
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """A server-side command (`initdb`, `pg_ctl`, ...) as the server user; fails loudly."""
    tool = str(bin_dir() / command[0])
    result = subprocess.run(
        _as_server_user([tool, *command[1:]]), capture_output=True, text=True, **kwargs
    )
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({result.returncode}):\n{result.stderr}")
    return result


class PostgresServer:
    """One server on 127.0.0.1:`port`, data in `data_dir`, WAL archived into `archive_dir`
    (written with `cp` only if absent, as barman-cloud-wal-archive refuses to overwrite).

    `superuser_dsn` reaches it as the bootstrap superuser over TCP (trust on 127.0.0.1 for that
    user only); other roles authenticate with SCRAM passwords.
    """

    def __init__(self, data_dir: Path, archive_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.archive_dir = archive_dir
        self.port = port
        self.log = data_dir.parent / "pg-logs" / f"{data_dir.name}.log"

    @property
    def superuser_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={SERVER_USER} dbname=postgres"

    def dsn(self, user: str, password: str, database: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        """A new, empty cluster configured for continuous archiving."""
        self.data_dir.mkdir(parents=True)
        self.archive_dir.mkdir(parents=True, exist_ok=True)
        hand_over(self.data_dir)
        hand_over(self.archive_dir)
        run(["initdb", "-D", str(self.data_dir), "-U", SERVER_USER, "--auth-local=trust",
             "--auth-host=scram-sha-256", "--no-sync"])  # fmt: skip
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {SERVER_USER} 127.0.0.1/32 trust\n"
            f"host replication {SERVER_USER} 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(self.archiving_settings())

    def archiving_settings(self) -> str:
        return (
            "\nlisten_addresses = '127.0.0.1'\n"
            f"port = {self.port}\n"
            "unix_socket_directories = ''\n"
            "wal_level = replica\n"
            "archive_mode = on\n"
            f"archive_command = 'test ! -f {self.archive_dir}/%f && cp %p {self.archive_dir}/%f'\n"
            "fsync = off\n"
        )

    def start(self) -> None:
        self.log.parent.mkdir(exist_ok=True)
        hand_over(self.log.parent)
        run(["pg_ctl", "-D", str(self.data_dir), "-l", str(self.log), "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        if (self.data_dir / "postmaster.pid").exists():
            run(["pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop"])

    def destroy(self) -> None:
        """The disk is lost: the server dies, its data directory is gone."""
        self.stop("immediate")
        shutil.rmtree(self.data_dir)

    def execute(self, sql: str, *, database: str = "postgres") -> list[tuple]:
        """`sql` as the superuser in autocommit; its rows, if any."""
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={SERVER_USER} dbname={database}",
            autocommit=True,
        ) as connection:
            cursor = connection.execute(sql)
            return cursor.fetchall() if cursor.description else []

"""Postgres clusters that a test owns: a primary of its own and a streaming replica of it
(initdb, pg_basebackup -R), on free ports in a temporary folder, with the machine's Postgres
binaries. As root the servers run as the postgres account, as Postgres requires."""

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.stack.stack import free_port, wait_for


def postgres_bin() -> Path:
    """The newest Debian Postgres binaries (or CONFLICTWATCH_PG_BIN)."""
    if os.environ.get("CONFLICTWATCH_PG_BIN"):
        return Path(os.environ["CONFLICTWATCH_PG_BIN"])
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    assert versions, "no Postgres server binaries in /usr/lib/postgresql (.ci/run installs them)"
    return versions[-1]


class Clusters:
    """A primary and, after `add_replica`, a hot standby streaming from it."""

    def __init__(self):
        self.bin = postgres_bin()
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="cw-clusters-"))
        if self.as_root:
            account = pwd.getpwnam("postgres")
            os.chown(self.dir, account.pw_uid, account.pw_gid)
        self.running: list[Path] = []
        self.primary_port = free_port()
        self.replica_port = 0

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{' '.join(cmd)}:\n{result.stdout}\n{result.stderr}"

    def _start(self, data: Path, port: int) -> None:
        options = (
            f"-p {port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=60 -c shared_buffers=32MB"
        )
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", f"{data}.log", "-w", "start")
        self.running.append(data)

    def start_primary(self) -> str:
        """initdb and start; returns the admin URL (database postgres)."""
        data = self.dir / "primary"
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._start(data, self.primary_port)
        return self.url(self.primary_port, "postgres")

    def add_replica(self) -> None:
        """A base backup of the primary, configured to stream from it (-R), started."""
        data = self.dir / "replica"
        self.replica_port = free_port()
        self._run(
            "pg_basebackup",
            "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
            "-D", str(data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        self._start(data, self.replica_port)
        wait_for(lambda: self.replica_sql("SELECT pg_is_in_recovery()")[0][0], 30, "hot standby")

    @staticmethod
    def url(port: int, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{dbname}"

    def primary_sql(self, query: str, dbname: str = "postgres") -> list:
        with psycopg.connect(self.url(self.primary_port, dbname), autocommit=True) as conn:
            return conn.execute(query).fetchall()

    def replica_sql(self, query: str, dbname: str = "postgres") -> list:
        with psycopg.connect(self.url(self.replica_port, dbname), autocommit=True) as conn:
            return conn.execute(query).fetchall()

    def wait_replica_caught_up(self, timeout: float = 60) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        (target,) = self.primary_sql("SELECT pg_current_wal_lsn()::text")[0]
        wait_for(
            lambda: self.replica_sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")[0][
                0
            ],
            timeout,
            "the replica to replay the primary's WAL",
        )

    def pause_replay(self) -> None:
        self.replica_sql("SELECT pg_wal_replay_pause()")
        wait_for(
            lambda: self.replica_sql("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused",
            30,
            "replay to pause",
        )

    def resume_replay(self) -> None:
        self.replica_sql("SELECT pg_wal_replay_resume()")

    def stop(self) -> None:
        for data in reversed(self.running):
            self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        self.running.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

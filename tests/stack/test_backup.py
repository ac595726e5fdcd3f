"""Backups as docs/operations.md describes them: pg_dump of a running install, restored with
pg_restore into a fresh database, answers the same API reads."""

import subprocess

import psycopg

from tests.stack.stack import PG_ADMIN_URL
from tests.stack.test_pipeline import WINDOW, simulated


def run(*cmd: str) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(cmd)}:\n{result.stderr}"
    return result.stdout


def test_a_dump_of_a_running_install_restores_into_a_fresh_database(pg_stack, tmp_path):
    records = simulated(minutes=3)
    assert pg_stack.ingest(records).json()["accepted"] == len(records)
    pg_stack.wait_aggregated()
    before = {path: pg_stack.api(path, **WINDOW) for path in ("summary/", "endpoints/")}
    assert before["summary/"]["requests"] == len(records)

    # While it runs (web and worker up), as the docs say.
    dump = tmp_path / "conflictwatch.dump"
    run("pg_dump", "--format=custom", f"--file={dump}", pg_stack.db_url)

    restored = pg_stack.dbname + "_restored"
    restored_url = pg_stack.db_url.rsplit("/", 1)[0] + "/" + restored
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{restored}"')
    try:
        run("pg_restore", f"--dbname={restored_url}", "--jobs=2", str(dump))
        # The restored install runs as it is: every migration is applied already.
        pg_stack.stop("web")
        pg_stack.stop("worker")
        pg_stack.env["DATABASE_URL"] = restored_url
        assert "No migrations to apply" in pg_stack.manage("migrate", "--noinput")
        pg_stack.start_web()
        after = {path: pg_stack.api(path, **WINDOW) for path in ("summary/", "endpoints/")}
        assert after == before
        with psycopg.connect(restored_url) as conn:
            stored = conn.execute("SELECT count(*) FROM ingest_request").fetchone()[0]
        assert stored == len(records)
    finally:
        pg_stack.stop("web")
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')

"""The quick start's database: `make run` migrates a new SQLite file, and says nothing a user
would have to act on."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_migrating_a_new_sqlite_database_prints_no_warnings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'quick.sqlite3'}"
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout + result.stderr == ""
    assert (tmp_path / "quick.sqlite3").stat().st_size > 0

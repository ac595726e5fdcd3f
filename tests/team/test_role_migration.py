"""Upgrading an installation: `readonly` members become viewers and `member`s, who could change
rules, become admins (monitor/migrations/0007); going back restores `readonly`."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(database: Path, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "CELERY_BROKER_URL": ""}
    subprocess.run(
        [sys.executable, "manage.py", *args, "-v0"], cwd=ROOT, env=env, check=True, timeout=300
    )


def roles(database: Path) -> dict[str, str]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT u.username, m.role FROM monitor_membership m JOIN auth_user u ON u.id = m.user_id"
        )
        return dict(rows.fetchall())


def test_old_roles_become_viewer_and_admin(tmp_path):
    database = tmp_path / "old.sqlite3"
    manage(database, "migrate", "monitor", "0006")
    with sqlite3.connect(database) as conn:
        conn.execute(
            "INSERT INTO monitor_project (slug, name, created_at, race_window_seconds, "
            "extra_headers, secret_headers, route_patterns, conflict_phrases, version_params, "
            "version_headers, max_endpoints) "
            "VALUES ('p', 'p', '2026-01-01', 5, '[]', '[]', '[]', '{}', '[]', '[]', 2000)"
        )
        for i, (name, role) in enumerate(
            [("ro", "readonly"), ("mem", "member"), ("adm", "admin")], start=1
        ):
            conn.execute(
                "INSERT INTO auth_user (id, password, is_superuser, username, first_name, "
                "last_name, email, is_staff, is_active, date_joined, last_login) "
                "VALUES (?, '', 0, ?, '', '', '', 0, 1, '2026-01-01', '2026-01-01')",
                (i, name),
            )
            conn.execute(
                "INSERT INTO monitor_membership (project_id, user_id, role) VALUES (1, ?, ?)",
                (i, role),
            )
    manage(database, "migrate", "monitor", "0007")
    assert roles(database) == {"ro": "viewer", "mem": "admin", "adm": "admin"}
    manage(database, "migrate", "monitor", "0006")
    assert roles(database)["ro"] == "readonly"

"""`make run`: the web server, simulated traffic and the periodic tasks, in one command."""

import io
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from ingest.models import Request
from monitor.demo import embedded


def last_record(slug: str, within: timedelta = timedelta(days=1)) -> datetime | None:
    """The time of the project's newest record of the last day (None when there is none):
    where a restarted demo's history resumes, so that it never sends a minute twice."""
    now = datetime.now(UTC)
    return (
        Request.objects.filter(project__slug=slug, ts__gte=now - within)
        .order_by("-ts")
        .values_list("ts", flat=True)
        .first()
    )


class Command(BaseCommand):
    help = "Start ConflictWatch with a live demo: server, simulated traffic, periodic tasks."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--rate", type=float, default=15.0, help="simulated requests/s")
        parser.add_argument(
            "--backfill",
            type=int,
            default=30,
            metavar="MINUTES",
            help="minutes of past traffic to send first (default %(default)s)",
        )
        parser.add_argument("--password", help="demo password (default: a new random one)")

    def handle(self, *args, **opts):
        base = f"http://{opts['host']}:{opts['port']}"
        children: list[subprocess.Popen] = []
        stop = threading.Event()

        def shutdown(*_):
            stop.set()

        signal.signal(signal.SIGTERM, shutdown)
        password = opts["password"] or secrets.token_urlsafe(9)
        call_command("demo", "--url", base + "/", "--password", password, stdout=io.StringIO())
        try:
            log_path = settings.BASE_DIR / "demo.log"
            self.stdout.write(f"starting the web server (its log: {log_path.name})…")
            server_log = open(log_path, "ab")  # noqa: SIM115 - open while the server runs
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "manage.py",
                        "runserver",
                        "--noreload",
                        "--skip-checks",
                        f"{opts['host']}:{opts['port']}",
                    ],
                    cwd=settings.BASE_DIR,
                    # runserver answers each request in a thread of its own: a connection
                    # kept for reuse would stay open after its thread ends, one more every
                    # few requests, until Postgres refuses clients.
                    env={**os.environ, "CONN_MAX_AGE": "0"},
                    stdout=server_log,
                    stderr=subprocess.STDOUT,
                )
            )
            self._wait_healthy(base)
            if settings.CONFLICTWATCH_EMBEDDED_TASKS:
                embedded.start(stop)
                self.stdout.write("periodic tasks run in-process (no CELERY_BROKER_URL set)")
            since = last_record("demo")
            if since is None:
                self.stdout.write(f"sending {opts['backfill']} minutes of simulated history…")
            else:
                self.stdout.write(
                    f"the demo already has history up to {since:%H:%M:%S} UTC: sending only what "
                    "is missing since then…"
                )
            # A new seed per run: the simulated request ids of two runs never collide.
            seed = secrets.randbelow(2**31)
            simulate = [
                sys.executable,
                "manage.py",
                "simulate",
                "--url",
                base,
                "--project",
                "demo",
                "--rate",
                str(opts["rate"]),
            ]
            backfill = [*simulate, "--backfill", str(opts["backfill"]), "--batches", "1"]
            if since is not None:
                backfill += ["--since", since.isoformat()]
            subprocess.run(
                [*backfill, "--seed", str(seed)],
                cwd=settings.BASE_DIR,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            children.append(
                subprocess.Popen(
                    [*simulate, "--seed", str(seed + 1)],
                    cwd=settings.BASE_DIR,
                    stdout=subprocess.DEVNULL,
                )
            )
            self.stdout.write("live simulated traffic is flowing; Ctrl-C stops everything")
            self.stdout.write(f"url: {base}/")
            self.stdout.write("user: demo")
            self.stdout.write(f"password: {password}")
            while not stop.is_set() and all(c.poll() is None for c in children):
                stop.wait(1)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()

    def _wait_healthy(self, base: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise CommandError(f"the web server did not answer at {base}/healthz")

"""Container health checks of docker-compose.yml, on the standard library only (a check runs
every few seconds and must not load Django):

    python deploy/healthcheck.py web    GET /healthz on gunicorn (200: healthy)
    python deploy/healthcheck.py beat   the beat schedule file was written in the last 10 min

Exit status 0 is healthy, 1 unhealthy.
"""

import glob
import os
import sys
import time
import urllib.error
import urllib.request

WEB_URL = os.environ.get("CONFLICTWATCH_HEALTH_URL", "http://127.0.0.1:8000/healthz")
BEAT_SCHEDULE = os.environ.get("CONFLICTWATCH_BEAT_SCHEDULE", "/tmp/celerybeat-schedule")
# Beat writes its schedule at least every few minutes (Celery syncs it every 3 minutes).
BEAT_STALE_SECONDS = 600


def allowed_host() -> str:
    """A host name the app accepts (the first of ALLOWED_HOSTS), for the Host header."""
    for host in os.environ.get("ALLOWED_HOSTS", "localhost").split(","):
        host = host.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def web() -> bool:
    """True when /healthz answers 200 (the database answers)."""
    request = urllib.request.Request(WEB_URL, headers={"Host": allowed_host()})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError) as error:
        print(f"web unhealthy: {error}", file=sys.stderr)
        return False


def beat() -> bool:
    """True when beat's schedule file (or its dbm parts) changed recently."""
    paths = glob.glob(BEAT_SCHEDULE + "*")
    if not paths:
        print(f"beat unhealthy: no {BEAT_SCHEDULE}", file=sys.stderr)
        return False
    age = time.time() - max(os.path.getmtime(p) for p in paths)
    if age > BEAT_STALE_SECONDS:
        print(f"beat unhealthy: schedule last written {age:.0f} s ago", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    checks = {"web": web, "beat": beat}
    if len(sys.argv) != 2 or sys.argv[1] not in checks:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(checks)}")
    sys.exit(0 if checks[sys.argv[1]]() else 1)

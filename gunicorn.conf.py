"""Gunicorn settings ConflictWatch relies on; gunicorn reads this file from the working directory
(the image's /app, a checkout's root) unless told another with --config.

/metrics must count what every worker did, not only the worker that answers the scrape, so the
counters run in prometheus_client's multi-process mode: each worker writes its values to files
in PROMETHEUS_MULTIPROC_DIR, which /metrics sums. The directory is this server's own (set here
unless the environment names one) and starts empty; a worker that exits is marked dead.
"""

import os
import tempfile
from pathlib import Path

# The application (Django, the URLconf and every view: monitor/wsgi.py) is loaded once, in the
# master, before the workers fork: a worker answers its first request as fast as the next, and
# the workers share the loaded code's memory. Code changes need a restart, not a HUP.
preload_app = True

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="conflictwatch-metrics-")
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def on_starting(server):
    # Values of an earlier run in the same directory would be added to this one's.
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # Everything loaded so far (Django, the project's modules) lives as long as the worker:
    # moved out of the cycle collector's sight, so that a full collection walks only what
    # requests made, not some hundred thousand objects that are never garbage.
    import gc

    gc.freeze()

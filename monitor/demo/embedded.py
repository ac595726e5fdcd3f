"""The embedded task runner: runs the periodic tasks in a thread when there is no Celery beat
(the SQLite demo). Each run is the same function beat would call."""

import logging
import threading
import time

from celery import current_app

from monitor import tasks  # noqa: F401 - registers the tasks with the app
from monitor.schedule import PERIODIC

log = logging.getLogger(__name__)


def run_periodic(stop: threading.Event, tick: float = 1.0) -> None:
    """Run every periodic task on its interval until `stop` is set."""
    next_run = dict.fromkeys(PERIODIC, 0.0)
    while not stop.is_set():
        now = time.monotonic()
        for name, every in PERIODIC.items():
            if now >= next_run[name]:
                next_run[name] = now + every
                try:
                    current_app.tasks[name].apply()
                except Exception:
                    log.exception("periodic task %s failed", name)
        stop.wait(tick)


def start(stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=run_periodic, args=(stop,), name="periodic", daemon=True)
    thread.start()
    return thread

"""The Celery app. Workers: `celery -A monitor worker`; beat: `celery -A monitor beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")

app = Celery("conflictwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["monitor"])


@app.on_after_configure.connect
def _schedule(sender, **kwargs):
    from monitor.schedule import beat_schedule

    sender.conf.beat_schedule = beat_schedule()

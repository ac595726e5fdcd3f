"""The WSGI application, loaded whole: every view and what it imports (the URLconf) is
imported here rather than by the first request each worker answers. Under gunicorn
(gunicorn.conf.py: preload_app) that happens once, in the master, before the workers fork."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")
application = get_wsgi_application()


def _load_views() -> None:
    from django.db import connections
    from django.urls import get_resolver

    from monitor.celery import app

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and every view
    app.finalize(auto=True)  # the tasks the views enqueue
    app.connection_for_write().get_transport_cls()  # the broker's client, not connected yet
    # Nothing above should reach the database; if something did, its connection must not be
    # shared by the forked workers.
    connections.close_all()


_load_views()

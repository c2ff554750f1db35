"""The Celery application; its configuration is the CELERY_* block of settings."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django support closes the database connection before and after every task
# unless DB_REUSE_MAX is set: one new PostgreSQL backend per task, which at probe rates
# costs more CPU than the probes themselves. Tasks instead treat connections the way
# Django treats them around a request (below): kept for CONN_MAX_AGE seconds, closed
# when unusable or obsolete. The reuse limit only adds a forced reconnect now and then.
app.conf.update(CELERY_DB_REUSE_MAX=1000)


@task_prerun.connect
@task_postrun.connect
def _connections_refresh(task: Any = None, **kwargs: Any) -> None:
    # A task run eagerly (tests, apply()) shares its caller's connection and transaction.
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()

"""The Celery app. Settings come from Django's (CELERY_* names); tasks live in each app's tasks.py."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gdi_archive.settings")

app = Celery("gdi_archive")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _stores_ready(**kwargs):
    from gdi_archive.storage import ensure_stores_ready

    ensure_stores_ready(remove_abandoned_writes=True)

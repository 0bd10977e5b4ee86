"""Thin Celery tasks for exports (routed to the `exports` queue).

Like ingest, a run that dies with its worker is started again: by the worker when it comes
back (same name) and by a periodic task for runs whose heartbeat went stale.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready

from gdi_archive import storage

from . import exports

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def run_export(self, export_id: str) -> None:
    exports.run_export(export_id=export_id, worker=self.request.hostname or "worker")


@shared_task
def recover_interrupted_exports(dead_worker: str | None = None) -> list[str]:
    ids = exports.recover_interrupted_exports(dead_worker=dead_worker)
    for export_id in ids:
        run_export.delay(export_id)
    return ids


@worker_ready.connect
def _recover_on_start(sender=None, **kwargs):
    """A worker that has just started runs nothing: the exports it held died with it."""
    from django.db import connection

    try:
        recover_interrupted_exports(dead_worker=getattr(sender, "hostname", None))
    except Exception:  # never keep a worker from starting
        log.exception("could not look for interrupted exports")
    finally:
        connection.close()  # the pool forks from this process: hand no open socket down


@shared_task(autoretry_for=(storage.StorageUnavailable,), retry_backoff=True, max_retries=5)
def clean_outbox() -> int:
    return exports.clean_outbox()


@shared_task(autoretry_for=(storage.StorageUnavailable,), retry_backoff=True, max_retries=8)
def withdraw_exports(user_id: int, datasets: list[str], reason: str) -> list[str]:
    """A person lost access (revocation, expiry, DAC block): remove their export copies."""
    return exports.withdraw_exports(user_id=user_id, datasets=datasets, reason=reason)

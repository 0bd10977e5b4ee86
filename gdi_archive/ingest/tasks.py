"""Celery tasks for ingest: thin wrappers that take ids and call `runs`.

Long jobs run with acks late and reject-on-worker-lost (settings), so a message is not lost
when a worker dies; in addition a (re)starting worker and a periodic task start again the
runs that died with their worker, which Redis would otherwise redeliver only after hours.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from gdi_archive.storage import StorageUnavailable

from . import runs

log = logging.getLogger(__name__)

MAX_RETRIES = 5


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True, reject_on_worker_lost=True)
def ingest_file(self, file_id: int) -> str:
    """Verify and archive one uploaded file; idempotent (a file not `uploaded` is left alone)."""
    worker = self.request.hostname or "worker"
    try:
        file = runs.run_ingest(file_id=file_id, worker=worker)
    except StorageUnavailable as exc:
        if self.request.retries >= MAX_RETRIES:
            log.error("ingest of file %s: storage still unavailable, giving up: %s", file_id, exc)
            runs.give_up(
                file_id=file_id,
                reason=f"Storage stayed unavailable after {MAX_RETRIES + 1} tries; "
                "the operators have been told and can start the ingest again.",
            )
            return "error"
        raise self.retry(exc=exc, countdown=min(300, settings.INGEST_RETRY_DELAY * 2**self.request.retries))
    return file.status if file is not None else "skipped"


@shared_task
def recover_interrupted_ingests(dead_worker: str | None = None) -> list[int]:
    """Queue again the files whose run died (stale heartbeat or a worker that restarted)."""
    ids = runs.recover_interrupted_ingests(dead_worker=dead_worker)
    for file_id in ids:
        ingest_file.delay(file_id)
    if ids:
        log.info("queued %d interrupted ingest(s) again: %s", len(ids), ids)
    return ids


@worker_ready.connect
def _recover_on_start(sender=None, **kwargs):
    """A worker that has just started is running nothing: whatever it held before died with it."""
    hostname = getattr(sender, "hostname", None)
    from django.db import connection

    try:
        recover_interrupted_ingests(dead_worker=hostname)
    except Exception:  # never keep a worker from starting
        log.exception("could not look for interrupted ingests")
    finally:
        connection.close()  # the pool forks from this process: hand no open socket down


@shared_task
def remove_abandoned_uploads() -> int:
    """Delete the parts of resumable uploads nobody has continued for a day."""
    from . import resumable

    return resumable.remove_abandoned()

"""Celery tasks for the Beacon: thin wrappers taking ids."""

import logging

from celery import shared_task

from gdi_archive.storage import StorageUnavailable

from . import loading

log = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=5, acks_late=True, reject_on_worker_lost=True)
def load_variants(self, load_id: int) -> int:
    """(Re)load one VCF/BCF of one dataset; safe to run twice (the newest run wins)."""
    try:
        load = loading.run_load(load_id)
    except StorageUnavailable as exc:
        raise self.retry(exc=exc, countdown=min(300, 10 * 2**self.request.retries)) from None
    except Exception:
        log.exception("beacon load %s failed", load_id)
        return 0
    return load.variants if load is not None else 0


@shared_task
def load_dataset(dataset_id: int) -> list[int]:
    return loading.schedule_dataset(dataset_id)


@shared_task
def forget_dataset(dataset_id: int) -> int:
    return loading.forget_dataset(dataset_id)

"""Thin Celery tasks for exports (routed to the `exports` queue)."""

from celery import shared_task

from gdi_archive import storage


@shared_task(bind=True, acks_late=True, max_retries=3)
def run_export(self, export_id: str) -> None:
    from .exports import run_export as run

    run(export_id=export_id)


@shared_task(autoretry_for=(storage.StorageUnavailable,), retry_backoff=True, max_retries=5)
def clean_outbox() -> int:
    from .exports import clean_outbox as clean

    return clean()

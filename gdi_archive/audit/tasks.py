"""The audit sealer as a beat job (default queue): chains what requests appended."""

from celery import shared_task

from .sealing import seal


@shared_task(ignore_result=True)
def seal_log() -> int:
    return seal()

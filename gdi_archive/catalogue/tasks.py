"""Thin Celery tasks of the catalogue (default queue): membership emails."""

from celery import shared_task

from . import notifications


@shared_task(autoretry_for=(OSError,), retry_backoff=30, retry_kwargs={"max_retries": 5})
def notify_dac_of_membership_change(dac_id: int, user_id: int, change: str, actor_name: str) -> int:
    return notifications.send_membership_change(dac_id, user_id, change, actor_name)

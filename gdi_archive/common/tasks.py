"""The one seam through which services queue Celery work.

Services name the task instead of importing their app's `tasks.py`, so tasks import services
and never the other way round. The message is sent after the transaction commits, so a rolled
back change queues nothing.
"""

import importlib

from django.db import transaction


def enqueue(task_name: str, *args, on_commit: bool = True, **kwargs) -> None:
    """Queue `task_name(*args, **kwargs)`; after commit unless `on_commit` is false (then now, raising if the broker is down)."""

    def send():
        _task(task_name).apply_async(args=args, kwargs=kwargs)

    if on_commit:
        transaction.on_commit(send)
    else:
        send()


def _task(task_name: str):
    """The registered task, importing its module first if this process has not yet."""
    from celery import current_app

    if task_name not in current_app.tasks:
        importlib.import_module(task_name.rsplit(".", 1)[0])
    return current_app.tasks[task_name]

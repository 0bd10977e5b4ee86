from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "gdi_archive.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self):
        # Celery signals: request ids into tasks, the worker's health/metrics HTTP server.
        from . import celery_signals, schema  # noqa: F401

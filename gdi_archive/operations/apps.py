from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "gdi_archive.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self):
        # Celery signals: request ids into tasks, the worker's health/metrics HTTP server;
        # passwords: failed passwords are counted wherever one is checked (user_login_failed).
        from . import celery_signals, passwords, schema  # noqa: F401

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "gdi_archive.audit"
    label = "audit"
    verbose_name = "Audit"

from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "gdi_archive.access"
    label = "access"
    verbose_name = "Access"

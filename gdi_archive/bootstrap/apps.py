from django.apps import AppConfig


class BootstrapConfig(AppConfig):
    name = "gdi_archive.bootstrap"
    label = "bootstrap"
    verbose_name = "Bootstrap"

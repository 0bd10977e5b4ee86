from django.apps import AppConfig


class PassportsConfig(AppConfig):
    name = "gdi_archive.passports"
    label = "passports"
    verbose_name = "Passports"

    def ready(self):
        from gdi_archive.common import grants

        from .grants import granted_datasets

        grants.provide(granted_datasets)

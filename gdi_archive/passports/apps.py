from django.apps import AppConfig


class PassportsConfig(AppConfig):
    name = "gdi_archive.passports"
    label = "passports"
    verbose_name = "Passports"

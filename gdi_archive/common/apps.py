from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "gdi_archive.common"
    label = "common"

from django.apps import AppConfig


class DownloadsConfig(AppConfig):
    name = "gdi_archive.downloads"
    label = "downloads"
    verbose_name = "Downloads"

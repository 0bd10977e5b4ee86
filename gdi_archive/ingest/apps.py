from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "gdi_archive.ingest"
    label = "ingest"
    verbose_name = "Ingest"

from django.apps import AppConfig


class BeaconConfig(AppConfig):
    name = "gdi_archive.beacon"
    label = "beacon"
    verbose_name = "Beacon"

    def ready(self):
        from . import receivers  # noqa: F401  (connects to the catalogue's signals)

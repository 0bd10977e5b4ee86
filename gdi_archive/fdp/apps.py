from django.apps import AppConfig


class FdpConfig(AppConfig):
    name = "gdi_archive.fdp"
    label = "fdp"
    verbose_name = "FAIR Data Point"

    def ready(self):
        """Listen to the catalogue (it never imports us): validate at release, read sample ids;
        warn at start-up when the shapes are not installed."""
        from django.core import checks

        from gdi_archive.catalogue import signals

        from . import receivers
        from .checks import shapes_installed

        checks.register(shapes_installed)

        signals.release_checks.connect(receivers.check_metadata, dispatch_uid="fdp-release-checks")
        signals.file_ready.connect(receivers.read_samples, dispatch_uid="fdp-file-samples")

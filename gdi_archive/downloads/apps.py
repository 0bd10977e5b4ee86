from django.apps import AppConfig


class DownloadsConfig(AppConfig):
    name = "gdi_archive.downloads"
    label = "downloads"
    verbose_name = "Downloads"

    def ready(self):
        from gdi_archive.access.signals import access_withdrawn

        access_withdrawn.connect(_on_access_withdrawn, dispatch_uid="downloads-withdraw-exports")


def _on_access_withdrawn(sender, *, user, datasets, reason, **kwargs):
    """Queue the removal of the person's export copies (sent after the change committed)."""
    import logging

    from gdi_archive.common.tasks import enqueue

    try:
        enqueue("gdi_archive.downloads.tasks.withdraw_exports", user.pk, list(datasets), reason, on_commit=False)
    except Exception:  # the change is committed; the links refuse anyway, the copies wait for a retry
        logging.getLogger(__name__).exception("could not queue the removal of %s's export copies", user.pk)

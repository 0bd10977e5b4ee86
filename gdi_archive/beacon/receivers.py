"""The Beacon listens to the catalogue: new VCF/BCF files and releases are loaded, a withdrawn
dataset's rows are deleted in the background (answers already ignore them: they filter on the
dataset's status at query time)."""

from django.dispatch import receiver

from gdi_archive.catalogue import signals


@receiver(signals.file_ready, dispatch_uid="beacon.file_ready")
def on_file_ready(sender, file, **kwargs):
    from . import loading

    loading.schedule_file(file)


@receiver(signals.dataset_released, dispatch_uid="beacon.dataset_released")
def on_dataset_released(sender, dataset, **kwargs):
    from . import loading

    loading.schedule_dataset(dataset.pk, only_missing=True)


@receiver(signals.dataset_withdrawn, dispatch_uid="beacon.dataset_withdrawn")
def on_dataset_withdrawn(sender, dataset, **kwargs):
    from . import tasks

    tasks.forget_dataset.delay(dataset.pk)

"""A dataset's release (draft -> released) and withdrawal (final), told to the apps above."""

from django.db import transaction
from django.utils import timezone

from gdi_archive.audit.services import record
from gdi_archive.common.errors import Conflict

from .. import signals
from ..models import Dataset, File
from .shared import clean_text, lock_dataset, require_steward


def release_dataset(*, actor, dataset: Dataset, request=None) -> Dataset:
    """Draft -> released; from now on applicants can find it and request access."""
    require_steward(actor)
    with transaction.atomic():
        dataset = lock_dataset(dataset.accession)
        if dataset.status != Dataset.Status.DRAFT:
            raise Conflict(f"{dataset.accession} is already {dataset.status}; only a draft can be released.")
        if not dataset.files.exists():
            raise Conflict(f"{dataset.accession} has no files yet; add files before releasing it.")
        not_ready = list(dataset.files.exclude(status=File.Status.READY).values_list("accession", flat=True))
        if not_ready:
            raise Conflict(f"These files are no longer ready: {', '.join(not_ready)}.")
        signals.release_checks.send(sender=Dataset, dataset=dataset)
        dataset.status = Dataset.Status.RELEASED
        dataset.released_at = timezone.now()
        dataset.save(update_fields=["status", "released_at", "updated_at"])
        record(
            action="catalogue.dataset.released",
            actor=actor,
            target=dataset,
            request=request,
            details={"files": dataset.files.count()},
        )
        transaction.on_commit(lambda: signals.dataset_released.send(sender=Dataset, dataset=dataset))
    return dataset


def withdraw_dataset(*, actor, dataset: Dataset, reason: str = "", request=None) -> Dataset:
    """Draft or released -> withdrawn: nobody can list or download it any more. Final."""
    require_steward(actor)
    reason = clean_text(reason, "reason")
    with transaction.atomic():
        dataset = lock_dataset(dataset.accession)
        if dataset.status == Dataset.Status.WITHDRAWN:
            raise Conflict(f"{dataset.accession} is already withdrawn.")
        previous = dataset.status
        dataset.status = Dataset.Status.WITHDRAWN
        dataset.save(update_fields=["status", "updated_at"])
        record(
            action="catalogue.dataset.withdrawn",
            actor=actor,
            target=dataset,
            request=request,
            details={"previous_status": previous, "reason": reason},
        )
        transaction.on_commit(lambda: signals.dataset_withdrawn.send(sender=Dataset, dataset=dataset))
    return dataset

"""Files into a draft dataset: only ready data files with an accession (their indexes follow)."""

from django.db import transaction

from gdi_archive.audit.services import record
from gdi_archive.common.errors import Conflict, InvalidInput

from ..models import Dataset, File
from .shared import lock_dataset, require_steward


def find_ready_files(files) -> list[File]:
    """Ready data files for these accessions, in order; InvalidInput naming any that are not."""
    if not isinstance(files, (list, tuple)) or not all(isinstance(acc, str) for acc in files):
        raise InvalidInput('"files" must be a non-empty list of file accessions.')
    wanted = list(dict.fromkeys(acc.strip() for acc in files if acc.strip()))
    if not wanted:
        raise InvalidInput('"files" must be a non-empty list of file accessions.')
    found = {
        f.accession: f
        for f in File.objects.filter(accession__in=wanted, status=File.Status.READY, index_of__isnull=True)
    }
    missing = [acc for acc in wanted if acc not in found]
    if missing:
        raise InvalidInput(
            f"Unknown or not ready file accession(s): {', '.join(missing)}. "
            "Only data files that finished ingestion can be added (indexes follow their data file)."
        )
    return [found[acc] for acc in wanted]


def add_files_to_dataset(*, actor, dataset: Dataset, files, request=None) -> Dataset:
    """Put ready data files (by accession) into a draft dataset; all or nothing."""
    require_steward(actor)
    find_ready_files(files)  # refuse bad input before taking any lock
    with transaction.atomic():
        dataset = lock_dataset(dataset.accession)
        if dataset.status != Dataset.Status.DRAFT:
            raise Conflict(
                f"{dataset.accession} is {dataset.status}; files can only be added to a draft dataset. "
                "Create a new dataset for more files."
            )
        present = set(dataset.files.values_list("pk", flat=True))
        new = [f for f in find_ready_files(files) if f.pk not in present]
        dataset.files.add(*new)
        dataset.save(update_fields=["updated_at"])
        record(
            action="catalogue.dataset.files_added",
            actor=actor,
            target=dataset,
            request=request,
            details={"files": [f.accession for f in new]},
        )
    return dataset

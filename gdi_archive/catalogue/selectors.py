"""Who may read what in the catalogue: fetch and authorise in one call.

The callers pass in the set of dataset accessions the request may read (from
`common.grants.granted_datasets(request)`, which the passports app answers), so the catalogue
never imports passports. A dataset that does not exist, is not released, or is not granted gives the same NotFound,
so accessions cannot be probed.
"""

from django.db.models import Count, Exists, OuterRef, QuerySet, Sum

from gdi_archive.common.errors import NotFound

from .models import Dataset, File


def _ready_index():
    return Exists(File.objects.filter(index_of=OuterRef("pk"), status=File.Status.READY))


def with_totals(datasets: QuerySet) -> QuerySet:
    """Annotate `file_count` and `size` (plaintext bytes of the data files)."""
    return datasets.annotate(
        file_count=Count("files", distinct=True),
        size=Sum("files__plaintext_size"),
    )


def datasets_for(granted: frozenset[str]) -> QuerySet:
    """The released datasets among `granted` (the accessions the request may read)."""
    if not granted:
        return Dataset.objects.none()
    return with_totals(Dataset.objects.filter(status=Dataset.Status.RELEASED, accession__in=sorted(granted))).order_by(
        "accession"
    )


def get_dataset_for(granted: frozenset[str], accession: str) -> Dataset:
    dataset = datasets_for(granted).filter(accession=accession).first()
    if dataset is None:
        raise NotFound(f"No dataset {accession} that you may read.")
    return dataset


def dataset_files(dataset: Dataset) -> QuerySet:
    """The dataset's ready data files, each annotated with `has_ready_index`."""
    return (
        dataset.files.filter(status=File.Status.READY, index_of__isnull=True)
        .annotate(has_ready_index=_ready_index())
        .order_by("accession")
    )


def files_for_dataset(granted: frozenset[str], accession: str) -> QuerySet:
    return dataset_files(get_dataset_for(granted, accession))

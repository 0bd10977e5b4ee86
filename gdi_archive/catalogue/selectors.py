"""Who may read what in the catalogue: fetch and authorise in one call.

Everything that lists or serves controlled data goes through `granted_datasets(request)`.
A dataset that does not exist, is not released, or is not granted gives the same NotFound,
so accessions cannot be probed.
"""

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from gdi_archive.common.errors import NotFound
from gdi_archive.passports.grants import granted_datasets

from .models import Dataset, File


def _ready_index():
    return Exists(File.objects.filter(index_of=OuterRef("pk"), status=File.Status.READY))


def with_totals(datasets: QuerySet) -> QuerySet:
    """Annotate `file_count` and `size` (plaintext bytes of the data files)."""
    return datasets.annotate(
        file_count=Count("files", distinct=True),
        size=Sum("files__plaintext_size"),
    )


def datasets_for(request) -> QuerySet:
    """Released datasets the request's token (or signed-in user) grants right now."""
    granted = granted_datasets(request)
    if not granted:
        return Dataset.objects.none()
    return with_totals(
        Dataset.objects.filter(status=Dataset.Status.RELEASED, accession__in=sorted(granted))
    ).order_by("accession")


def get_dataset_for(request, accession: str) -> Dataset:
    dataset = datasets_for(request).filter(accession=accession).first()
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


def files_for_dataset(request, accession: str) -> QuerySet:
    return dataset_files(get_dataset_for(request, accession))


def get_file_for(request, accession: str) -> File:
    """A ready data file in a released dataset the request may read; else NotFound."""
    granted = granted_datasets(request)
    file = None
    if granted:
        file = (
            File.objects.filter(
                Q(accession=accession), status=File.Status.READY, index_of__isnull=True,
                datasets__status=Dataset.Status.RELEASED, datasets__accession__in=sorted(granted),
            )
            .annotate(has_ready_index=_ready_index())
            .first()
        )
    if file is None:
        raise NotFound(f"No file {accession} that you may read.")
    return file

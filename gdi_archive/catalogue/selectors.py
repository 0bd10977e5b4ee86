"""Who may read what in the catalogue: fetch and authorise in one call.

The callers pass in the set of dataset accessions the request may read (from
`common.grants.granted_datasets(request)`, which the passports app answers), so the catalogue
never imports passports. A dataset that does not exist, is not released, or is not granted gives the same NotFound,
so accessions cannot be probed.
"""

import functools

from django.db import connection
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


def dataset_summaries(granted: frozenset[str], *, after: str | None, limit: int) -> list[dict]:
    """At most `limit` of the released datasets among `granted`, in accession order after
    `after`, as the listing sends them ({accession, title, file_count, size}): the rows and rules
    of `datasets_for`, read with plain SQL made once per shape, since building the ORM's query
    (with its aggregates) cost more CPU than the rest of a listing request. The totals are
    subqueries per dataset shown, so a page costs the same however many datasets are granted."""
    if not granted:
        return []
    params = [Dataset.Status.RELEASED, *sorted(granted)]
    if after is not None:
        params.append(str(after))  # a cursor's value compares as the text column it came from
    sql = _summaries_sql(after is not None).replace("{granted}", ", ".join(["%s"] * len(granted)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [
            {"accession": accession, "title": title, "file_count": int(count), "size": int(size)}
            for accession, title, count, size in cursor.fetchall()
        ]


@functools.cache
def _summaries_sql(with_cursor: bool) -> str:
    q = connection.ops.quote_name
    through = Dataset.files.through._meta
    on_file, on_dataset = through.get_field("file").column, through.get_field("dataset").column
    links = f"FROM {q(through.db_table)} df WHERE df.{q(on_dataset)} = d.{q('id')}"
    size = (
        f"SELECT COALESCE(SUM(f.{q('plaintext_size')}), 0) FROM {q(through.db_table)} df "
        f"JOIN {q(File._meta.db_table)} f ON f.{q('id')} = df.{q(on_file)} WHERE df.{q(on_dataset)} = d.{q('id')}"
    )
    after = f"AND d.{q('accession')} > %s " if with_cursor else ""
    return (
        f"SELECT d.{q('accession')}, d.{q('title')}, (SELECT COUNT(*) {links}) AS file_count, ({size}) AS size "
        f"FROM {q(Dataset._meta.db_table)} d WHERE d.{q('status')} = %s AND d.{q('accession')} IN ({{granted}}) "
        f"{after}ORDER BY d.{q('accession')} LIMIT %s"
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

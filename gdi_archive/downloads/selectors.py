"""Fetch and authorise in one call: a file the request may not read is simply not found."""

import functools

from django.db import connection

from gdi_archive.catalogue.models import Dataset, File
from gdi_archive.common.errors import NotFound
from gdi_archive.common.rows import instances, model_columns
from gdi_archive.passports.grants import granted_datasets

NOT_FOUND = "There is no such file, or your token does not grant access to it."


def readable_files(request):
    """Ready data files in released datasets that the clearinghouse grants to this request now."""
    granted = granted_datasets(request)
    if not granted:
        return File.objects.none()
    return File.objects.filter(
        status=File.Status.READY,
        accession__isnull=False,
        index_of__isnull=True,
        datasets__accession__in=granted,
        datasets__status=Dataset.Status.RELEASED,
    ).distinct()


def get_file_for_download(*, request, accession: str, with_index: bool = False) -> File:
    """The file, with `granted_via` (the released datasets it is read through, granted now), and
    with `with_index` its newest ready index's id, sha256 and format (`ready_index_row`): read in
    the same statement, one row per granted dataset, since links and htsget need them next. Plain
    SQL (made once per process): building this query through the ORM cost more CPU than the rest
    of a download ticket."""
    granted = sorted(granted_datasets(request))
    if not granted:
        raise NotFound(NOT_FOUND)
    marks = ", ".join(["%s"] * len(granted))
    params = [File.Status.READY] * 3 if with_index else []  # the index subqueries come first
    params += [accession, File.Status.READY, Dataset.Status.RELEASED, *granted]
    extra = ("via", "index_pk", "index_sha256", "index_format") if with_index else ("via",)
    rows = instances(File, _file_sql(with_index).replace("{granted}", marks), params, extra=extra)
    if not rows:
        raise NotFound(NOT_FOUND)
    file = rows[0]
    file.granted_via = frozenset(row.via for row in rows)
    if with_index:
        file.ready_index_row = (file.index_pk, file.index_sha256, file.index_format) if file.index_pk else None
    return file


@functools.cache
def _file_sql(with_index: bool) -> str:
    q = connection.ops.quote_name
    through = Dataset.files.through._meta
    on_file, on_dataset = through.get_field("file").column, through.get_field("dataset").column
    columns = model_columns(File, "f", q)
    index = ""
    if with_index:
        newest = (
            f"FROM {q(File._meta.db_table)} i WHERE i.{q('index_of_id')} = f.{q('id')} AND i.{q('status')} = %s "
            f"ORDER BY i.{q('id')} DESC LIMIT 1"
        )
        index = (
            f", (SELECT i.{q('id')} {newest}) AS index_pk, (SELECT i.{q('stored_sha256')} {newest}) AS index_sha256"
            f", (SELECT i.{q('format')} {newest}) AS index_format"
        )
    return (
        f"SELECT {columns}, d.{q('accession')} AS via{index} FROM {q(File._meta.db_table)} f "
        f"JOIN {q(through.db_table)} df ON df.{q(on_file)} = f.{q('id')} "
        f"JOIN {q(Dataset._meta.db_table)} d ON d.{q('id')} = df.{q(on_dataset)} "
        f"WHERE f.{q('accession')} = %s AND f.{q('status')} = %s AND f.{q('index_of_id')} IS NULL "
        f"AND d.{q('status')} = %s AND d.{q('accession')} IN ({{granted}})"
    )


def readable_dataset_files(*, request, accession: str) -> list[File]:
    granted = granted_datasets(request)
    if (
        accession not in granted
        or not Dataset.objects.filter(accession=accession, status=Dataset.Status.RELEASED).exists()
    ):
        raise NotFound("There is no such dataset, or your token does not grant access to it.")
    return list(readable_files(request).filter(datasets__accession=accession).order_by("id"))


def ready_index(file: File) -> File | None:
    """The file's newest ready index (BAI, CSI, TBI or CRAI), if it has one."""
    return file.indexes.filter(status=File.Status.READY).order_by("-id").first()


def actor_of(request):
    """The user to name in the audit log, or the token's subject for a broker's passport."""
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    auth = getattr(request, "auth", None)
    return getattr(auth, "subject", None) or "anonymous"

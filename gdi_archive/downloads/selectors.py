"""Fetch and authorise in one call: a file the request may not read is simply not found."""

from django.db.models import F, OuterRef, Subquery

from gdi_archive.catalogue.models import Dataset, File
from gdi_archive.common.errors import NotFound
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
    the same statement, one row per granted dataset, since links and htsget need them next."""
    granted = granted_datasets(request)
    if not granted:
        raise NotFound(NOT_FOUND)
    rows = File.objects.filter(
        accession=accession,
        status=File.Status.READY,
        index_of__isnull=True,
        datasets__accession__in=granted,
        datasets__status=Dataset.Status.RELEASED,
    ).annotate(via=F("datasets__accession"))
    if with_index:
        newest = File.objects.filter(index_of=OuterRef("pk"), status=File.Status.READY).order_by("-id")
        rows = rows.annotate(
            index_pk=Subquery(newest.values("pk")[:1]),
            index_sha256=Subquery(newest.values("stored_sha256")[:1]),
            index_format=Subquery(newest.values("format")[:1]),
        )
    rows = list(rows[:100])
    if not rows:
        raise NotFound(NOT_FOUND)
    file = rows[0]
    file.granted_via = frozenset(row.via for row in rows)
    if with_index:
        file.ready_index_row = (file.index_pk, file.index_sha256, file.index_format) if file.index_pk else None
    return file


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

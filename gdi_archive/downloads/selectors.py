"""Fetch and authorise in one call: a file the request may not read is simply not found."""

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


def get_file_for_download(*, request, accession: str) -> File:
    file = readable_files(request).filter(accession=accession).first()
    if file is None:
        raise NotFound(NOT_FOUND)
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

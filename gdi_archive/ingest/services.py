"""Submitting files: who may, receiving an upload into the inbox, and the inbox listing.

The ingest run itself (claim, verify, archive, finish) lives in `runs.py`; both are the one
write path that the API, the management commands, the admin and the Celery tasks call.
"""

import logging
import re
import uuid
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db import transaction

from gdi_archive.audit.services import record
from gdi_archive.catalogue.models import File, FileEvent
from gdi_archive.common.errors import ArchiveError, Conflict, InsufficientStorage, InvalidInput, TooLarge
from gdi_archive.storage import LocalStore, StorageError, StorageFull, StorageUnavailable, inbox_store

from . import names
from .models import IngestJob

log = logging.getLogger(__name__)

SUBMITTERS_GROUP = "submitters"
_HEX = re.compile(r"[0-9a-fA-F]+")


def can_submit(user) -> bool:
    """Stewards, operators and members of the `submitters` group may upload."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser or getattr(user, "is_steward", False):
        return True
    return user.groups.filter(name=SUBMITTERS_GROUP).exists()


def _checksum(value: str | None, kind: str, length: int) -> str:
    value = (value or "").strip().lower()
    if value and (len(value) != length or not _HEX.fullmatch(value)):
        raise InvalidInput(f"The {kind} checksum must be {length} hexadecimal characters.")
    return value


class _LimitedBody:
    """The upload's bytes, refusing more than announced and noticing an upload cut short."""

    def __init__(self, chunks: Iterable[bytes], expected: int):
        self.chunks, self.expected, self.received = chunks, expected, 0

    def __iter__(self):
        for chunk in self.chunks:
            if not chunk:
                continue
            self.received += len(chunk)
            if self.received > self.expected:
                raise TooLarge("The upload is larger than its Content-Length.")
            yield chunk
        if self.received != self.expected:
            raise InvalidInput(
                f"The upload ended after {self.received} of {self.expected} bytes; nothing was kept, please send it again."
            )


def _enqueue(file_id: int) -> None:
    """Queue the ingest; if the broker is down the upload stays `uploaded` and recovery queues it later."""
    from django.utils import timezone

    from .tasks import ingest_file

    IngestJob.objects.filter(file_id=file_id).update(queued_at=timezone.now())
    try:
        ingest_file.delay(file_id)
    except Exception:  # never turn a stored upload into a 500 after it was committed
        log.exception("could not queue the ingest of file %s; it will be queued again by recovery", file_id)
        IngestJob.objects.filter(file_id=file_id).update(queued_at=None)


def _delete_inbox_object(key: str) -> None:
    if not key:
        return
    try:
        inbox_store().delete(key)
    except StorageError as exc:  # a leftover in the inbox is harmless; say so in the log
        log.warning("could not delete inbox object %s: %s", key, exc)


def _link_indexes(file: File) -> None:
    """Link an index to its data file, or a data file to indexes that came first."""
    if names.is_index_format(file.format):
        data_name = names.data_file_name(file.name)
        if data_name and file.index_of_id is None:
            data = File.objects.filter(submitter=file.submitter, name=data_name).exclude(pk=file.pk).first()
            if data is not None and not names.is_index_format(data.format):
                file.index_of = data
    else:
        File.objects.filter(
            submitter=file.submitter, name__in=names.index_names(file.name), index_of__isnull=True
        ).exclude(pk=file.pk).update(index_of=file)


def receive_upload(*, submitter, name: str, chunks: Iterable[bytes], size: int | None,
                   sha256: str | None = None, md5: str | None = None, request=None,
                   enqueue: bool = True) -> tuple[File, bool]:
    """Stream an upload into the inbox and register it; ingestion starts after commit.

    Returns (file, created). A name that is already ready is a conflict; one that failed or is
    still in progress is replaced (a run still working on the old bytes is fenced off).
    """
    problem = names.check_inbox_name(name)
    if problem:
        raise InvalidInput(problem)
    sha256 = _checksum(sha256, "SHA-256", 64)
    md5 = _checksum(md5, "MD5", 32)
    if size is None:
        raise InvalidInput("Send the upload with a Content-Length header.", code="LengthRequired", status_code=411)
    if size <= 0:
        raise InvalidInput("The upload is empty.")
    if size > settings.INBOX_MAX_BYTES:
        raise TooLarge(f"The upload is {size} bytes; the inbox accepts at most {settings.INBOX_MAX_BYTES} bytes per file.")
    refuse_if_archived(submitter=submitter, name=name)
    store = inbox_store()
    free = store.free_space()
    if free is None and isinstance(store, LocalStore):  # the folder is made on first use
        store.ensure_ready()
        free = store.free_space()
    if free is not None and free < size:
        raise InsufficientStorage("The inbox does not have room for this upload now; try again later or contact the archive.")
    key = f"{submitter.pk}/{uuid.uuid4().hex}/{name}"
    store_upload(store=store, key=key, body=_LimitedBody(chunks, size), name=name, submitter=submitter)
    try:
        result = _register_upload(submitter=submitter, name=name, key=key, size=size, sha256=sha256, md5=md5,
                                  request=request, enqueue=enqueue)
    except BaseException:
        _delete_inbox_object(key)
        raise
    from .resumable import discard

    discard(submitter=submitter, name=name, store=store)  # a whole upload replaces an unfinished one
    return result


def refuse_if_archived(*, submitter, name: str) -> None:
    existing = File.objects.filter(submitter=submitter, inbox_name=name).first()
    if existing is not None and existing.status == File.Status.READY:
        raise Conflict(f"{name} is already archived as {existing.accession or existing.name}; choose another name.")


def store_upload(*, store, key: str, body, name: str, submitter) -> None:
    """Write an upload (or a part of one) to the inbox; storage trouble becomes a clear refusal."""
    try:
        store.write(key, body)
    except StorageFull:
        raise InsufficientStorage("The inbox ran out of space during the upload; nothing was kept. Try again later.") from None
    except StorageUnavailable:
        raise InvalidInput("The inbox storage is unavailable; please try again shortly.", code="ServiceUnavailable",
                           status_code=503) from None
    except StorageError as exc:
        log.error("upload of %s by %s could not be stored: %s", name, submitter, exc)
        raise ArchiveError("The inbox could not store the upload; nothing was kept. The operators have been told.",
                           code="ServiceUnavailable", status_code=503) from None


def _register_upload(*, submitter, name, key, size, sha256, md5, request, enqueue) -> tuple[File, bool]:
    with transaction.atomic():
        file = File.objects.select_for_update().filter(submitter=submitter, inbox_name=name).first()
        created = file is None
        old_key = ""
        if created:
            file = File(submitter=submitter, inbox_name=name)
        elif file.status == File.Status.READY:
            raise Conflict(f"{name} is already archived as {file.accession or file.name}; choose another name.")
        else:
            old_key = file.inbox_location
        file.name = names.catalogue_name(name)
        file.format = names.file_format(file.name)
        file.status = File.Status.UPLOADED
        file.error = ""
        file.bytes_done = 0
        file.bytes_total = size
        file.supplied_sha256 = sha256
        file.supplied_md5 = md5
        file.inbox_location = key
        for field in ("plaintext_size", "stored_size", "header"):
            setattr(file, field, None)
        file.sha256 = file.md5 = file.stored_sha256 = file.archive_key_id = file.location = ""
        file.save()
        _link_indexes(file)
        if file.index_of_id:
            file.save(update_fields=["index_of"])
        job, _ = IngestJob.objects.select_for_update().get_or_create(file=file)
        if not created:
            job.attempt += 1  # fences off any run still working on the old bytes
            job.save(update_fields=["attempt"])
        FileEvent.objects.create(file=file, status=File.Status.UPLOADED,
                                 detail=f"uploaded, {size} bytes" + ("" if created else " (replaces an earlier upload)"))
        record(action="ingest.upload", actor=submitter, target=file, request=request,
               details={"inbox_name": name, "bytes": size, "replaced": not created,
                        "supplied_sha256": sha256, "supplied_md5": md5})
        if enqueue:
            transaction.on_commit(lambda: _enqueue(file.pk))
        if old_key:
            transaction.on_commit(lambda: _delete_inbox_object(old_key))
    return file, created


def _file_chunks(path: Path, progress=None):
    with open(path, "rb") as handle:
        done = 0
        while chunk := handle.read(8 * 1024 * 1024):
            done += len(chunk)
            if progress:
                progress("upload", done)
            yield chunk


def ingest_local_file(*, path, submitter, name: str | None = None, sha256: str | None = None,
                      md5: str | None = None, run_now: bool = True, progress=None) -> File:
    """Put a local Crypt4GH file into the inbox and ingest it (here, unless `run_now` is false).

    `progress(stage, bytes_done)` is called as the copy and the ingest move on.
    """
    from .runs import run_ingest

    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"There is no file at {path}.")
    size = path.stat().st_size
    file, _ = receive_upload(submitter=submitter, name=name or path.name, chunks=_file_chunks(path, progress),
                             size=size, sha256=sha256, md5=md5, enqueue=not run_now)
    if run_now:
        try:
            run_ingest(file_id=file.pk, worker="local",
                       progress=(lambda done: progress("ingest", done)) if progress else None)
        except StorageUnavailable as exc:  # the file is back to `uploaded`; the workers will retry it
            transaction.on_commit(lambda: _enqueue(file.pk))
            raise ArchiveError(f"Storage is unavailable ({exc}); the file stays in the inbox and will be ingested "
                               "again automatically.", code="ServiceUnavailable", status_code=503) from exc
    file.refresh_from_db()
    return file


def inbox_entries(user):
    """My uploads, finished ones included, oldest first."""
    return File.objects.filter(submitter=user).select_related("index_of").order_by("id")


def restart_ingest(*, file: File, actor) -> bool:
    """Ingest a failed file again from its upload (after a storage problem was fixed).

    Only files that failed while their upload is still in the inbox can be restarted; files
    that failed verification must be uploaded again.
    """
    with transaction.atomic():
        locked = File.objects.select_for_update().get(pk=file.pk)
        if locked.status != File.Status.ERROR or not locked.inbox_location:
            return False
        job, _ = IngestJob.objects.select_for_update().get_or_create(file=locked)
        job.attempt += 1
        job.save(update_fields=["attempt"])
        File.objects.filter(pk=locked.pk).update(status=File.Status.UPLOADED, error="", bytes_done=0)
        FileEvent.objects.create(file=locked, status=File.Status.UPLOADED, detail=f"ingest restarted by {actor}")
        record(action="ingest.restarted", actor=actor, target=locked, details={"previous_error": locked.error})
        transaction.on_commit(lambda: _enqueue(locked.pk))
    return True

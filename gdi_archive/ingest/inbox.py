"""The inbox's building blocks, shared by whole-file uploads (`services`) and resumable ones (`resumable`).

Checking what a client sends, writing it to the inbox store, registering it as a File and
queueing its ingest. Higher modules call these; this module calls none of them.
"""

import logging
import re
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from gdi_archive.audit.services import record
from gdi_archive.catalogue.models import File, FileEvent
from gdi_archive.common.errors import (
    Conflict,
    InsufficientStorage,
    InvalidInput,
    ServiceUnavailable,
    TooLarge,
)
from gdi_archive.common.tasks import enqueue
from gdi_archive.storage import LocalStore, StorageError, StorageFull, StorageUnavailable, archive_store, inbox_store

from . import names
from .models import IngestJob

log = logging.getLogger(__name__)

INGEST_TASK = "gdi_archive.ingest.tasks.ingest_file"
STAGED_PREFIX = "files/received/"  # archive objects written while an upload arrived, until a run takes one
_HEX = re.compile(r"[0-9a-fA-F]+")


def checksum(value: str | None, kind: str, length: int) -> str:
    """A supplied checksum, lower case, or "" when none was sent."""
    value = (value or "").strip().lower()
    if value and (len(value) != length or not _HEX.fullmatch(value)):
        raise InvalidInput(f"The {kind} checksum must be {length} hexadecimal characters.")
    return value


class LimitedBody:
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


def ensure_room(store, needed: int) -> None:
    """Refuse an upload the inbox has no room for now (a local folder is made on first use)."""
    free = store.free_space()
    if free is None and isinstance(store, LocalStore):
        store.ensure_ready()
        free = store.free_space()
    if free is not None and free < needed:
        raise InsufficientStorage(
            "The inbox does not have room for this upload now; try again later or contact the archive."
        )


def refuse_if_archived(*, submitter, name: str) -> None:
    existing = File.objects.filter(submitter=submitter, inbox_name=name).first()
    if existing is not None and existing.status == File.Status.READY:
        raise Conflict(f"{name} is already archived as {existing.accession or existing.name}; choose another name.")


def store_upload(*, store, key: str, body, name: str, submitter) -> None:
    """Write an upload (or a part of one) to the inbox; storage trouble becomes a clear refusal."""
    try:
        store.write(key, body)
    except StorageFull:
        raise InsufficientStorage(
            "The inbox ran out of space during the upload; nothing was kept. Try again later."
        ) from None
    except StorageUnavailable:
        raise ServiceUnavailable("The inbox storage is unavailable; please try again shortly.") from None
    except StorageError as exc:
        log.error("upload of %s by %s could not be stored: %s", name, submitter, exc)
        raise ServiceUnavailable(
            "The inbox could not store the upload; nothing was kept. The operators have been told."
        ) from None


def delete_staged(key: str) -> None:
    """Delete a body staged in the archive for an upload whose run will not take it."""
    if not key:
        return
    try:
        archive_store().delete(key)
    except StorageError as exc:
        log.warning("could not delete the staged archive object %s: %s", key, exc)


def delete_inbox_object(key: str) -> None:
    """Delete an inbox object, logging (not raising) when the store refuses."""
    if not key:
        return
    try:
        inbox_store().delete(key)
    except StorageError as exc:  # a leftover in the inbox is harmless; say so in the log
        log.warning("could not delete inbox object %s: %s", key, exc)


def link_indexes(file: File) -> None:
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


def register_upload(
    *, submitter, name, key, size, sha256, md5, request, enqueue, received: dict | None = None
) -> tuple[File, bool]:
    """Make (or replace) the File for a stored upload, fencing off any run on older bytes.

    `received`: what verifying the upload while it was received found (`receiving_record`), or None.
    """
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
        link_indexes(file)
        if file.index_of_id:
            file.save(update_fields=["index_of"])
        job, _ = IngestJob.objects.select_for_update().get_or_create(file=file)
        if not created:
            job.attempt += 1  # fences off any run still working on the old bytes
        replaced_staged = (job.received or {}).get("staged_key") or ""
        job.received = received
        job.save(update_fields=["attempt", "received"])
        if replaced_staged and replaced_staged != job.archive_key:  # a run in progress owns (and drops) its own
            transaction.on_commit(lambda: delete_staged(replaced_staged))
        FileEvent.objects.create(
            file=file,
            status=File.Status.UPLOADED,
            detail=f"uploaded, {size} bytes" + ("" if created else " (replaces an earlier upload)"),
        )
        record(
            action="ingest.upload",
            actor=submitter,
            target=file,
            request=request,
            details={
                "inbox_name": name,
                "bytes": size,
                "replaced": not created,
                "supplied_sha256": sha256,
                "supplied_md5": md5,
            },
        )
        if enqueue:
            transaction.on_commit(lambda: queue_ingest(file.pk))
        if old_key:
            transaction.on_commit(lambda: delete_inbox_object(old_key))
    return file, created


def queue_ingest(file_id: int) -> None:
    """Queue the ingest; if the broker is down the upload stays `uploaded` and recovery queues it later."""
    IngestJob.objects.filter(file_id=file_id).update(queued_at=timezone.now())
    try:
        enqueue(INGEST_TASK, file_id, on_commit=False)
    except Exception:  # never turn a stored upload into a 500 after it was committed
        log.exception("could not queue the ingest of file %s; it will be queued again by recovery", file_id)
        IngestJob.objects.filter(file_id=file_id).update(queued_at=None)


def receiving_record(*, key: str, verified, key_id: str, staged_key: str = "", inbox_fingerprint: str = "") -> dict:
    """What verifying an upload as it arrived found, as kept on its IngestJob for the run.

    `staged_key`: the archive object the verified body was written to as it arrived, and
    `inbox_fingerprint` the inbox object's fingerprint then: the run takes that object as the
    file's body if the inbox object is still the same one, instead of copying the body again.
    """
    return {
        "inbox_key": key,
        "staged_key": staged_key,
        "inbox_fingerprint": inbox_fingerprint,
        "header": verified.header.hex(),
        "key_id": key_id,
        "plaintext_size": verified.plaintext_size,
        "stored_size": verified.stored_size,
        "sha256": verified.sha256,
        "md5": verified.md5,
        "stored_sha256": verified.stored_sha256,
    }

"""Submitting files: who may, receiving an upload into the inbox, and the inbox listing.

The ingest run itself (claim, verify, archive, finish) lives in `runs.py` and the shared inbox
steps in `inbox.py`; these are the one write path that the API, the management commands, the admin and the Celery tasks call.
"""

import logging
import uuid
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db import transaction

from gdi_archive.accounts.permissions import is_steward
from gdi_archive.audit.services import record
from gdi_archive.catalogue.models import File, FileEvent
from gdi_archive.common.errors import InvalidInput, LengthRequired, ServiceUnavailable, TooLarge
from gdi_archive.keyring.archive import archive_keyring
from gdi_archive.storage import StorageUnavailable, Store, archive_store, inbox_store

from . import inbox, names, resumable
from .models import IngestJob
from .pipeline import ReceivingCheck
from .runs import run_ingest

log = logging.getLogger(__name__)

SUBMITTERS_GROUP = "submitters"


def can_submit(user) -> bool:
    """Stewards, operators and members of the `submitters` group may upload."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return is_steward(user) or user.groups.filter(name=SUBMITTERS_GROUP).exists()


def receive_upload(
    *,
    submitter,
    name: str,
    chunks: Iterable[bytes],
    size: int | None,
    sha256: str | None = None,
    md5: str | None = None,
    request=None,
    enqueue: bool = True,
    verify: bool = False,
) -> tuple[File, bool]:
    """Stream an upload into the inbox and register it; ingestion starts after commit.

    Returns (file, created). A name that is already ready is a conflict; one that failed or is
    still in progress is replaced (a run still working on the old bytes is fenced off).
    With `verify`, the upload is verified as it arrives (header, every segment's MAC, the
    checksums; `pipeline.ReceivingCheck`) on the core the socket leaves idle, so its run only
    copies the body. A file that does not verify is stored all the same: its run finds the
    fault again and fails it with the usual message.
    """
    problem = names.check_inbox_name(name)
    if problem:
        raise InvalidInput(problem)
    sha256 = inbox.checksum(sha256, "SHA-256", 64)
    md5 = inbox.checksum(md5, "MD5", 32)
    if size is None:
        raise LengthRequired("Send the upload with a Content-Length header.")
    if size <= 0:
        raise InvalidInput("The upload is empty.")
    if size > settings.INBOX_MAX_BYTES:
        raise TooLarge(
            f"The upload is {size} bytes; the inbox accepts at most {settings.INBOX_MAX_BYTES} bytes per file."
        )
    inbox.refuse_if_archived(submitter=submitter, name=name)
    store = inbox_store()
    inbox.ensure_room(store, size)
    key = f"{submitter.pk}/{uuid.uuid4().hex}/{name}"
    keyring = _keyring_for_checking() if verify else None
    archive, staged_key = _staging(store) if keyring else (None, "")
    check = (
        ReceivingCheck(
            secret_keys=[sk for sk, _ in keyring],
            expected_sha256=sha256,
            expected_md5=md5,
            archive=archive,
            staged_key=staged_key,
        )
        if keyring
        else None
    )
    body = inbox.LimitedBody(chunks, size)
    try:
        inbox.store_upload(
            store=store, key=key, body=check.wrap(body) if check else body, name=name, submitter=submitter
        )
    except BaseException:
        if check:
            check.abort()
        raise
    verified = check.result() if check else None
    fingerprint = store.fingerprint(key) if verified and staged_key else None
    if staged_key and (verified is None or fingerprint is None):
        inbox.delete_staged(staged_key)  # nothing to take it with (nothing was kept if it did not verify)
        staged_key = ""
    received = (
        inbox.receiving_record(
            key=key,
            verified=verified,
            key_id=keyring[verified.key_index][1],
            staged_key=staged_key,
            inbox_fingerprint=fingerprint or "",
        )
        if verified
        else None
    )
    try:
        result = inbox.register_upload(
            submitter=submitter,
            name=name,
            key=key,
            size=size,
            sha256=sha256,
            md5=md5,
            request=request,
            enqueue=enqueue,
            received=received,
        )
    except BaseException:
        inbox.delete_inbox_object(key)
        inbox.delete_staged(staged_key)
        raise
    resumable.discard(submitter=submitter, name=name, store=store)  # a whole upload replaces an unfinished one
    return result


def _staging(store):
    """The archive store and a fresh key to write a verified body to as it arrives, if worth it.

    Only when the inbox store can prove later that the object is unchanged (`fingerprint`):
    otherwise the run reads and copies it all anyway, and the staged copy would be wasted."""
    if type(store).fingerprint is Store.fingerprint:
        return None, ""
    return archive_store(), f"{inbox.STAGED_PREFIX}{uuid.uuid4().hex}"


def _keyring_for_checking():
    """The archive's (secret key, key id) pairs to verify an upload with, or None (the run will)."""
    try:
        return archive_keyring()
    except Exception:  # the run reports missing keys; the upload itself is not refused for it
        log.exception("the archive keys could not be loaded to verify an upload as it arrives")
        return None


def _file_chunks(path: Path, progress=None):
    with open(path, "rb") as handle:
        done = 0
        while chunk := handle.read(8 * 1024 * 1024):
            done += len(chunk)
            if progress:
                progress("upload", done)
            yield chunk


def ingest_local_file(
    *,
    path,
    submitter,
    name: str | None = None,
    sha256: str | None = None,
    md5: str | None = None,
    run_now: bool = True,
    progress=None,
) -> File:
    """Put a local Crypt4GH file into the inbox and ingest it (here, unless `run_now` is false).

    `progress(stage, bytes_done)` is called as the copy and the ingest move on.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"There is no file at {path}.")
    size = path.stat().st_size
    file, _ = receive_upload(
        submitter=submitter,
        name=name or path.name,
        chunks=_file_chunks(path, progress),
        size=size,
        sha256=sha256,
        md5=md5,
        enqueue=not run_now,
    )
    if run_now:
        try:
            run_ingest(
                file_id=file.pk, worker="local", progress=(lambda done: progress("ingest", done)) if progress else None
            )
        except StorageUnavailable as exc:  # the file is back to `uploaded`; the workers will retry it
            transaction.on_commit(lambda: inbox.queue_ingest(file.pk))
            raise ServiceUnavailable(
                f"Storage is unavailable ({exc}); the file stays in the inbox and will be ingested again automatically."
            ) from exc
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
        transaction.on_commit(lambda: inbox.queue_ingest(locked.pk))
    return True

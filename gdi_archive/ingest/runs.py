"""One ingest run of one file: claim it, verify and archive it, then mark it ready or failed.

Every write a run makes goes through `_fenced`, which checks that the run's attempt number is
still the file's current one (IngestJob.attempt). A run presumed dead and replaced, or whose
upload was replaced, therefore stops at its next write and cleans up its own archive object.
Nothing is marked ready unless the store has committed the whole, verified body.
"""

import dataclasses
import logging
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from gdi_archive.audit.services import record
from gdi_archive.catalogue import signals as catalogue_signals
from gdi_archive.catalogue.models import File, FileEvent
from gdi_archive.crypt4gh.errors import Crypt4GHError
from gdi_archive.crypt4gh.header import open_header
from gdi_archive.keyring.archive import archive_keyring
from gdi_archive.storage import (
    ObjectNotFound,
    StorageError,
    StorageFull,
    StorageUnavailable,
    archive_store,
    inbox_store,
)

from . import names
from .inbox import link_indexes
from .models import IngestJob
from .pipeline import NotAsReceived, Verified, copy_verified, verify_and_store

log = logging.getLogger(__name__)

PROGRESS_BYTES = 8 * 1024 * 1024  # record progress at most every 8 MiB ...
PROGRESS_SECONDS = 0.5  # ... and at most twice a second
HEARTBEAT_SECONDS = 30  # but at least this often, however slowly the bytes come
ACTOR = "ingest"
LOST_AFTER_STALE = 12  # an upload queued this many stale periods ago and still waiting is queued again
_IN_PROGRESS = (File.Status.VERIFYING, File.Status.ARCHIVING)


class Superseded(Exception):
    """A newer attempt owns the file (restart or re-upload): this run stops quietly."""


def _fenced(file_id: int, attempt: int) -> IngestJob:
    job = IngestJob.objects.select_for_update().filter(file_id=file_id).first()
    if job is None or job.attempt != attempt:
        raise Superseded()
    return job


def _delete_quietly(store, key: str) -> None:
    if not key:
        return
    try:
        store.delete(key)
    except StorageError as exc:
        log.warning("could not delete %s from %s: %s", key, store, exc)


def claim_ingest(*, file_id: int, worker: str) -> tuple[File, int, str] | None:
    """Take an uploaded file for this run (conditional update); None if there is nothing to do."""
    with transaction.atomic():
        if not File.objects.filter(pk=file_id).exists():
            return None  # deleted meanwhile (or a message from another database)
        job, _ = IngestJob.objects.select_for_update().get_or_create(file_id=file_id)
        claimed = File.objects.filter(pk=file_id, status=File.Status.UPLOADED).update(
            status=File.Status.VERIFYING, bytes_done=0, error=""
        )
        if not claimed:
            return None
        leftover = job.archive_key
        now = timezone.now()
        job.attempt += 1
        job.worker = worker[:255]
        job.started_at = job.heartbeat_at = now
        job.finished_at = None
        job.archive_key = f"files/{file_id}/{uuid.uuid4().hex}"
        job.save()
        FileEvent.objects.create(
            file_id=file_id, status=File.Status.VERIFYING, detail=f"checking every segment (attempt {job.attempt})"
        )
        file = File.objects.get(pk=file_id)
    if leftover:  # an earlier attempt died; its object (if it got that far) is garbage
        _delete_quietly(archive_store(), leftover)
    return file, job.attempt, job.archive_key


class _Progress:
    """Records bytes read and the heartbeat, rarely enough not to slow the run down."""

    def __init__(self, file_id: int, attempt: int, callback=None):
        self.file_id, self.attempt, self.callback = file_id, attempt, callback
        self.last_bytes, self.last_time = 0, 0.0

    def __call__(self, done: int) -> None:
        if self.callback:
            self.callback(done)
        now = time.monotonic()
        busy = done - self.last_bytes < PROGRESS_BYTES or now - self.last_time < PROGRESS_SECONDS
        if busy and now - self.last_time < HEARTBEAT_SECONDS:  # a slow stream still shows life
            return
        self.last_bytes, self.last_time = done, now
        with transaction.atomic():
            if not IngestJob.objects.filter(file_id=self.file_id, attempt=self.attempt).update(
                heartbeat_at=timezone.now()
            ):
                raise Superseded()
            File.objects.filter(pk=self.file_id).update(bytes_done=done)

    def verified(self) -> None:
        with transaction.atomic():
            _fenced(self.file_id, self.attempt)
            File.objects.filter(pk=self.file_id).update(status=File.Status.ARCHIVING)
            FileEvent.objects.create(
                file_id=self.file_id, status=File.Status.ARCHIVING, detail="all segments verified; storing the body"
            )


_UPLOAD_GONE = "The uploaded file is no longer in the inbox; please upload it again."


def run_ingest(*, file_id: int, worker: str = "", progress=None) -> File | None:
    """The whole ingest of one file. Raises StorageUnavailable (after releasing the file) to be retried.

    Claim the file, load the archive keys, verify the upload into a new archive object, then
    mark the file ready; a run that fails on the way ends in `_end_failed_run`.
    """
    claim = claim_ingest(file_id=file_id, worker=worker or "local")
    if claim is None:
        return None
    file, attempt, key = claim
    archive = archive_store()
    tracker = _Progress(file_id, attempt, progress)
    if not file.inbox_location:
        return fail_ingest(file_id=file_id, attempt=attempt, reason=_UPLOAD_GONE)
    keyring = _load_keyring(file_id)
    if keyring is None:
        return fail_ingest(
            file_id=file_id,
            attempt=attempt,
            reason="The archive's keys could not be loaded; the operators have been told.",
        )
    try:
        verified, location = _verify_into_archive(file, archive=archive, key=key, keyring=keyring, tracker=tracker)
    except StorageUnavailable as exc:
        _delete_quietly(archive, key)
        release_for_retry(file_id=file_id, attempt=attempt, reason=str(exc))
        raise
    except Exception as exc:
        return _end_failed_run(exc, file_id=file_id, attempt=attempt, archive=archive, key=key)
    try:
        return finish_ingest(
            file_id=file_id,
            attempt=attempt,
            verified=verified,
            location=location,
            archive_key_id=keyring[verified.key_index][1],
        )
    except Superseded:
        _delete_quietly(archive, location)
        return None


def _load_keyring(file_id: int):
    """The archive's (secret key, key id) pairs, or None (logged) when they cannot be loaded."""
    try:
        return archive_keyring()
    except Exception:  # an operator's problem, not the submitter's: keep the upload for a restart
        log.exception("ingest of file %s: the archive keys could not be loaded", file_id)
        return None


def _received(file: File) -> tuple[Verified | None, dict]:
    """What verifying this very inbox object found while it was received (if that was done), and its record."""
    record = IngestJob.objects.filter(file_id=file.pk).values_list("received", flat=True).first()
    if not record or record.get("inbox_key") != file.inbox_location:
        return None, {}
    try:
        return Verified(
            header=bytes.fromhex(record["header"]),
            key_index=-1,  # the run opens the header itself
            plaintext_size=int(record["plaintext_size"]),
            stored_size=int(record["stored_size"]),
            sha256=str(record["sha256"]),
            md5=str(record["md5"]),
            stored_sha256=str(record["stored_sha256"]),
        ), record
    except (KeyError, TypeError, ValueError):
        return None, {}


def _take_staged(file: File, *, record: dict, received: Verified, archive, secret_keys, attempt: int, tracker):
    """The body written to the archive while the upload arrived, as this file's body, if it may be.

    It may when the inbox object is still the one received (its fingerprint is unchanged),
    the staged object has the verified body's size and the archive's keys still open the
    verified header. Then no byte is read or copied again: every segment of that object passed
    its MAC check before the store committed it, and its sha256 is the verified body's.
    Returns (Verified, its key), or None (the staged object deleted) to copy as before.
    """
    staged = record.get("staged_key") or ""
    if not staged:
        return None
    fingerprint = record.get("inbox_fingerprint") or ""
    try:
        usable = bool(fingerprint) and inbox_store().fingerprint(file.inbox_location) == fingerprint
        usable = usable and archive.size(staged) == received.stored_size
        opened = open_header(received.header, secret_keys) if usable else None
    except (StorageError, Crypt4GHError):
        usable = False
    if not usable:
        _delete_quietly(archive, staged)
        return None
    tracker.verified()
    with transaction.atomic():
        job = _fenced(file.pk, attempt)
        job.archive_key = staged  # this run owns it now: a failed or replaced run deletes it
        job.save(update_fields=["archive_key"])
    return dataclasses.replace(received, key_index=opened.key_index), staged


def _verify_into_archive(file: File, *, archive, key: str, keyring, tracker: "_Progress"):
    """Read the upload from the inbox, check every segment, and store the body under `key`.

    Returns (Verified, the body's archive key). An upload verified while it was received is
    taken as staged then (`_take_staged`), or else only copied, its body's sha256 proving it is
    the verified one (`pipeline.copy_verified`); if it is not, it is verified all over again.
    """
    secret_keys = [sk for sk, _ in keyring]
    received, record = _received(file)
    if received is not None and (file.supplied_sha256, file.supplied_md5) != ("", ""):
        # the checksums the submitter gave were compared while receiving; compare them again here
        if file.supplied_sha256 and file.supplied_sha256 != received.sha256:
            received = None
        elif file.supplied_md5 and file.supplied_md5 != received.md5:
            received = None
    if received is None:
        _delete_quietly(archive, record.get("staged_key") or "")
    else:
        taken = _take_staged(
            file,
            record=record,
            received=received,
            archive=archive,
            secret_keys=secret_keys,
            attempt=tracker.attempt,
            tracker=tracker,
        )
        if taken is not None:
            return taken
        try:
            with inbox_store().open_sequential(file.inbox_location) as source:
                return copy_verified(
                    source=source,
                    archive=archive,
                    archive_key=key,
                    secret_keys=secret_keys,
                    received=received,
                    on_progress=tracker,
                    on_verified=tracker.verified,
                ), key
        except NotAsReceived as exc:
            log.warning("ingest of file %s: %s; verifying every segment again", file.pk, exc)
    with inbox_store().open_sequential(file.inbox_location) as source:
        return verify_and_store(
            source=source,
            archive=archive,
            archive_key=key,
            secret_keys=secret_keys,
            expected_sha256=file.supplied_sha256,
            expected_md5=file.supplied_md5,
            on_progress=tracker,
            on_verified=tracker.verified,
        ), key


def _end_failed_run(exc: Exception, *, file_id: int, attempt: int, archive, key: str) -> File | None:
    """What a run that raised leaves behind. Called while `exc` is being handled.

    Superseded: nothing (the newer attempt owns the file). A bad Crypt4GH file: failed, upload
    dropped. The upload gone from the inbox: failed. Anything else: failed, with a reason that
    tells the submitter whose problem it is; the half-written archive object is deleted.
    """
    if isinstance(exc, Superseded):
        _delete_quietly(archive, key)
        return None
    if isinstance(exc, Crypt4GHError):
        return fail_ingest(file_id=file_id, attempt=attempt, reason=str(exc), drop_upload=True)
    if isinstance(exc, ObjectNotFound):
        return fail_ingest(file_id=file_id, attempt=attempt, reason=_UPLOAD_GONE)
    reason = _failure_reason(exc, file_id)
    _delete_quietly(archive, key)
    return fail_ingest(file_id=file_id, attempt=attempt, reason=reason)


def _failure_reason(exc: Exception, file_id: int) -> str:
    """The submitter's reason for a storage or internal failure (logged for the operators)."""
    if isinstance(exc, StorageFull):
        return "The archive store is full; an operator must add space, then ingest the file again."
    if isinstance(exc, StorageError):
        log.error("ingest of file %s: storage error: %s", file_id, exc)
        return "The file could not be stored in the archive; the operators have been told."
    log.exception("ingest of file %s failed unexpectedly", file_id)
    if type(exc).__name__ == "SoftTimeLimitExceeded":
        return "Ingest stopped: it took longer than the time limit."
    return "Ingest failed because of an internal error; the operators have been told. Please try again later."


def finish_ingest(*, file_id: int, attempt: int, verified, location: str, archive_key_id: str) -> File:
    with transaction.atomic():
        job = _fenced(file_id, attempt)
        file = File.objects.select_for_update().get(pk=file_id)
        file.header = verified.header
        file.archive_key_id = archive_key_id
        file.plaintext_size = verified.plaintext_size
        file.stored_size = verified.stored_size
        file.sha256, file.md5, file.stored_sha256 = verified.sha256, verified.md5, verified.stored_sha256
        file.location = location
        file.status = File.Status.READY
        file.bytes_done = file.bytes_total
        file.error = ""
        inbox_key, file.inbox_location = file.inbox_location, ""
        if not names.is_index_format(file.format):
            file.assign_accession()
        file.save()
        link_indexes(file)
        if file.index_of_id:
            file.save(update_fields=["index_of"])
        job.finished_at = timezone.now()
        job.archive_key = ""  # now owned by File.location
        job.save(update_fields=["finished_at", "archive_key"])
        FileEvent.objects.create(
            file=file,
            status=File.Status.READY,
            detail=f"archived: {verified.plaintext_size} bytes, sha256 {verified.sha256}",
        )
        record(
            action="ingest.ready",
            actor=ACTOR,
            target=file,
            details={
                "sha256": verified.sha256,
                "plaintext_size": verified.plaintext_size,
                "stored_size": verified.stored_size,
                "archive_key_id": file.archive_key_id,
                "index_of": file.index_of_id,
            },
        )
        transaction.on_commit(lambda: _delete_quietly(inbox_store(), inbox_key))
        transaction.on_commit(lambda: catalogue_signals.file_ready.send(sender=File, file=file))
    return file


def fail_ingest(*, file_id: int, attempt: int, reason: str, drop_upload: bool = False) -> File | None:
    """Mark the file failed with a reason for the submitter; its bytes never reach the archive."""
    try:
        with transaction.atomic():
            job = _fenced(file_id, attempt)
            file = File.objects.select_for_update().get(pk=file_id)
            file.status = File.Status.ERROR
            file.error = reason
            inbox_key = file.inbox_location
            if drop_upload:
                file.inbox_location = ""
            file.save(update_fields=["status", "error", "inbox_location", "updated_at"])
            leftover, job.archive_key, job.finished_at = job.archive_key, "", timezone.now()
            job.save(update_fields=["archive_key", "finished_at"])
            FileEvent.objects.create(file=file, status=File.Status.ERROR, detail=reason)
            record(action="ingest.failed", actor=ACTOR, target=file, details={"reason": reason})
            if drop_upload:
                transaction.on_commit(lambda: _delete_quietly(inbox_store(), inbox_key))
    except Superseded:
        return None
    _delete_quietly(archive_store(), leftover)
    return file


def release_for_retry(*, file_id: int, attempt: int, reason: str) -> None:
    """Storage hiccup: put the file back to `uploaded` so the retried task can claim it again."""
    try:
        with transaction.atomic():
            job = _fenced(file_id, attempt)
            job.transient_failures += 1
            job.save(update_fields=["transient_failures"])
            File.objects.filter(pk=file_id, status__in=_IN_PROGRESS).update(status=File.Status.UPLOADED, bytes_done=0)
            FileEvent.objects.create(
                file_id=file_id, status=File.Status.UPLOADED, detail=f"storage unavailable, will try again: {reason}"
            )
    except Superseded:
        pass


def give_up(*, file_id: int, reason: str) -> File | None:
    """Retries are exhausted: fail whatever attempt is current (the file is `uploaded` by now)."""
    job = IngestJob.objects.filter(file_id=file_id).first()
    if job is None:
        return None
    return fail_ingest(file_id=file_id, attempt=job.attempt, reason=reason)


def recover_interrupted_ingests(*, dead_worker: str | None = None, stale_after: int | None = None) -> list[int]:
    """Start again the runs whose worker died: files stuck in verifying/archiving.

    A run is dead when its heartbeat is older than `stale_after` seconds, or when it belongs to
    `dead_worker` (a worker that has just (re)started runs nothing yet). Uploads whose task was
    lost are queued again too. Returns the ids queued.
    """
    stale_after = stale_after if stale_after is not None else settings.INGEST_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    requeue = []
    candidates = IngestJob.objects.filter(file__status__in=_IN_PROGRESS).values_list(
        "file_id", "attempt", "worker", "heartbeat_at"
    )
    for file_id, attempt, worker, heartbeat in candidates:
        if not ((dead_worker and worker == dead_worker) or heartbeat is None or heartbeat < cutoff):
            continue
        with transaction.atomic():
            job = IngestJob.objects.select_for_update().filter(file_id=file_id, attempt=attempt).first()
            if job is None:
                continue
            job.attempt += 1  # fences the old run, should it still be alive after all
            job.save(update_fields=["attempt"])
            if File.objects.filter(pk=file_id, status__in=_IN_PROGRESS).update(
                status=File.Status.UPLOADED, bytes_done=0
            ):
                FileEvent.objects.create(
                    file_id=file_id,
                    status=File.Status.UPLOADED,
                    detail=f"the worker running attempt {attempt} stopped; starting again",
                )
                requeue.append(file_id)
    # Uploads whose task never got queued (broker down) or was lost long ago; not the ones
    # merely waiting their turn behind other ingests, which would only pile up duplicates.
    lost_cutoff = timezone.now() - timedelta(seconds=LOST_AFTER_STALE * stale_after)
    lost = (
        File.objects.filter(status=File.Status.UPLOADED)
        .exclude(inbox_location="")
        .filter(
            Q(ingest_job__queued_at__isnull=True) | Q(ingest_job__queued_at__lt=lost_cutoff),
            updated_at__lt=cutoff,
        )
    )
    requeue += [pk for pk in lost.values_list("pk", flat=True) if pk not in requeue]
    if requeue:
        IngestJob.objects.filter(file_id__in=requeue).update(queued_at=timezone.now())
    return requeue

"""Exports: a worker writes re-encrypted copies of files to the outbox; links expire.

The copy is the file's header re-encrypted for the requester's key followed by the stored
body, unchanged (never decrypted). Access is checked when the export is requested and again
for every download through its links (`still_allowed`).
"""

import base64
import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from gdi_archive import storage
from gdi_archive.access.selectors import blocked_datasets
from gdi_archive.audit import services as audit
from gdi_archive.catalogue.models import Dataset
from gdi_archive.common.errors import InvalidInput, NotFound
from gdi_archive.common.tasks import enqueue
from gdi_archive.passports.services import live_dataset_accessions

from . import selectors, services, signing
from .keys import ClientKey
from .models import Export, ExportFile

log = logging.getLogger(__name__)
PROGRESS_EVERY = 64 * 1024 * 1024
HEARTBEAT_EVERY = 15  # seconds; far below EXPORT_STALE_SECONDS
MAX_FILES = 10000


def _subject(request) -> str:
    user = getattr(request, "user", None)
    auth = getattr(request, "auth", None)
    return getattr(auth, "subject", None) or (user.get_username() if user is not None and user.is_authenticated else "")


def request_export(*, request, files: list | None, dataset: str | None, key: ClientKey) -> Export:
    """Check the files are readable now, record the export, and queue it for a worker."""
    if bool(files) == bool(dataset):
        raise InvalidInput('Give either "files" (a list of file accessions) or "dataset" (a dataset accession).')
    if files is not None:
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files) or len(files) > MAX_FILES:
            raise InvalidInput(f'"files" must be a list of at most {MAX_FILES} file accessions.')
        chosen = [selectors.get_file_for_download(request=request, accession=acc) for acc in dict.fromkeys(files)]
    else:
        if not isinstance(dataset, str):
            raise InvalidInput('"dataset" must be a dataset accession.')
        chosen = selectors.readable_dataset_files(request=request, accession=dataset)
        if not chosen:
            raise InvalidInput("That dataset has no files ready to export.")
    user = getattr(request, "user", None)
    requester = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        export = Export.objects.create(
            requester=requester,
            subject=_subject(request),
            public_key=key.b64,
            key_fingerprint=key.fingerprint,
            dataset=dataset or "",
            bytes_total=sum(services.body_size(f) for f in chosen),
            visa_access_until=_visa_access_until(request, requester, chosen),
        )
        ExportFile.objects.bulk_create([ExportFile(export=export, file=f) for f in chosen])
        audit.record(
            action="download.export.requested",
            actor=selectors.actor_of(request),
            target=export,
            request=request,
            details={
                "files": [f.accession for f in chosen],
                "dataset": dataset or "",
                "bytes": export.bytes_total,
                "key_fingerprint": key.fingerprint,
            },
        )
        enqueue("gdi_archive.downloads.tasks.run_export", str(export.id))
    return export


def _released_datasets(file) -> set[str]:
    return set(file.datasets.filter(status=Dataset.Status.RELEASED).values_list("accession", flat=True))


def _visa_access_until(request, requester, files) -> datetime | None:
    """When access to any of the files rests on something other than a live entitlement here
    (a broker's visas), the moment that access ends; None when entitlements cover every file."""
    live = live_dataset_accessions(requester) if requester is not None else frozenset()
    if all(_released_datasets(f) & live for f in files):
        return None
    grants = getattr(request, "auth", None)
    return getattr(grants, "expires_at", None) or timezone.now() + timedelta(seconds=settings.VISA_MAX_AGE)


def still_allowed(export: Export, file) -> bool:
    """May an export link still serve this file? A revoked or expired entitlement, or a DAC
    block, stops it at once, as it stops every other download."""
    requester = export.requester
    if requester is None or not requester.is_active:
        return False
    held = _released_datasets(file) - blocked_datasets(user=requester)
    if not held:
        return False
    if held & live_dataset_accessions(requester):
        return True
    return export.visa_access_until is not None and export.visa_access_until > timezone.now()


def withdraw_exports(*, user_id: int, datasets: list[str], reason: str) -> list[str]:
    """The person lost access to `datasets`: remove the outbox copies of each of their exports
    that holds a file they may no longer read, and say why on the export. Returns the ids."""
    withdrawn = []
    exports = Export.objects.filter(
        requester_id=user_id,
        status__in=[Export.Status.QUEUED, Export.Status.RUNNING, Export.Status.DONE],
        items__file__datasets__accession__in=list(datasets),
    ).distinct()
    for export in exports.select_related("requester"):
        if all(still_allowed(export, item.file) for item in export.items.select_related("file")):
            continue  # another live grant still covers every file
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.REVOKED, error=reason, expires_at=timezone.now(), finished_at=timezone.now()
        )
        _remove_copies(export)
        audit.record(
            action="download.export.withdrawn",
            actor=None,
            target=export,
            details={"user": export.subject, "datasets": sorted(datasets), "reason": reason},
        )
        withdrawn.append(str(export.id))
    return withdrawn


def _remove_copies(export: Export) -> None:
    for item in export.items.exclude(location=""):
        storage.outbox_store().delete(item.location)
    export.items.update(location="", done=False)


def get_export(*, request, export_id) -> Export:
    """The requester's own export; anyone else's is not found. Matched on the local user (a
    broker's subject has its own user, linked by (iss, sub)), never on the bare subject name:
    a broker passport with `sub: alice` is not local alice."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False) or not _is_uuid(export_id):
        raise NotFound("There is no such export.")
    export = Export.objects.filter(pk=export_id, requester=user).first()
    if export is None:
        raise NotFound("There is no such export.")
    return export


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _write_item(export: Export, item: ExportFile, key: ClientKey, done_before: int) -> int:
    file = item.file
    header = services.fresh_header(file=file, key=key)
    location = f"exports/{export.id}/{file.accession}.c4gh"
    state = {"done": done_before, "reported": done_before, "at": time.monotonic()}

    def chunks():
        yield header
        for chunk in storage.archive_store().iter_range(file.location, 0, services.body_size(file)):
            state["done"] += len(chunk)
            if state["done"] - state["reported"] >= PROGRESS_EVERY or time.monotonic() - state["at"] >= HEARTBEAT_EVERY:
                Export.objects.filter(pk=export.pk).update(bytes_done=state["done"], heartbeat_at=timezone.now())
                state["reported"], state["at"] = state["done"], time.monotonic()
            yield chunk

    size = storage.outbox_store().write(location, chunks())
    with transaction.atomic():
        ExportFile.objects.filter(pk=item.pk).update(location=location, size=size, done=True)
        Export.objects.filter(pk=export.pk).update(bytes_done=state["done"])
        audit.record(
            action="download.export",
            actor=export.requester or export.subject,
            target=file,
            details={"export": str(export.id), "bytes": size, "key_fingerprint": export.key_fingerprint},
        )
    return state["done"]


def run_export(*, export_id, worker: str = "") -> None:
    """Claim a queued export and write its files; safe to call twice (the second does nothing).

    Files already written by a run that died are kept (each outbox copy is written atomically
    under a fixed name), so a restarted run carries on where the dead one stopped.
    """
    now = timezone.now()
    claimed = Export.objects.filter(pk=export_id, status__in=[Export.Status.QUEUED]).update(
        status=Export.Status.RUNNING, started_at=now, worker=worker, heartbeat_at=now
    )
    if not claimed:
        return
    export = Export.objects.get(pk=export_id)
    key = ClientKey(base64.b64decode(export.public_key))
    done = 0
    try:
        for item in export.items.select_related("file"):
            if item.done:
                done += services.body_size(item.file)
                continue
            if not _still_running(export):
                break  # withdrawn meanwhile (a revocation, a DAC block): write nothing more
            done = _write_item(export, item, key, done)
    except Exception as exc:  # the job fails as a whole; the user sees why
        log.exception("export %s failed", export_id)
        message = (
            str(exc) if isinstance(exc, storage.StorageError) else "The export could not be written; please try again."
        )
        Export.objects.filter(pk=export_id).update(
            status=Export.Status.FAILED, error=message, finished_at=timezone.now()
        )
        return
    now = timezone.now()
    finished = Export.objects.filter(pk=export_id, status=Export.Status.RUNNING).update(
        status=Export.Status.DONE,
        finished_at=now,
        bytes_done=done,
        expires_at=now + timedelta(seconds=settings.EXPORT_LINK_TTL),
    )
    if not finished:
        _remove_copies(export)  # withdrawn while it ran: what was written goes too


def _still_running(export: Export) -> bool:
    return Export.objects.filter(pk=export.pk, status=Export.Status.RUNNING).exists()


def export_links(export: Export, *, request) -> list[dict]:
    """Links for the files this request may still read (a revoked entitlement hides them).

    A link points at the archive, never straight at the outbox: each request through it
    re-checks the requester's grant, then streams the copy or redirects to a presigned URL made
    for that request alone (`export_file`)."""
    if export.status != Export.Status.DONE or not export.expires_at:
        return []
    readable = set(selectors.readable_files(request).values_list("pk", flat=True))
    ttl = int((export.expires_at - timezone.now()).total_seconds())
    if ttl <= 0:
        return []
    links = []
    for item in export.items.select_related("file").filter(done=True, file__pk__in=readable):
        url = signing.signed_url(
            f"/api/exports/{export.id}/files/{item.file.accession}",
            {"export": export.id, "file": item.file.accession},
            ttl=ttl,
        )
        links.append({"file": item.file.accession, "name": f"{item.file.name}.c4gh", "size": item.size, "url": url})
    return links


def recover_interrupted_exports(*, dead_worker: str | None = None, stale_after: int | None = None) -> list[str]:
    """Queue again the exports whose run died: held by a worker that has just (re)started, or
    silent for longer than EXPORT_STALE_SECONDS. Returns their ids."""
    stale_after = settings.EXPORT_STALE_SECONDS if stale_after is None else stale_after
    dead = Q(heartbeat_at__lt=timezone.now() - timedelta(seconds=stale_after)) | Q(heartbeat_at__isnull=True)
    if dead_worker:
        dead |= Q(worker=dead_worker)
    running = Export.objects.filter(status=Export.Status.RUNNING)
    ids = [str(pk) for pk in running.filter(dead).values_list("pk", flat=True)]
    if ids:
        running.filter(pk__in=ids).update(status=Export.Status.QUEUED, worker="")
        log.warning("exports interrupted, queued again: %s", ids)
    return ids


def clean_outbox() -> int:
    """Delete the outbox copies of exports whose links have expired; returns how many exports."""
    cleaned = 0
    for export in Export.objects.filter(status=Export.Status.DONE, expires_at__lt=timezone.now()):
        for item in export.items.exclude(location=""):
            storage.outbox_store().delete(item.location)
        Export.objects.filter(pk=export.pk).update(status=Export.Status.EXPIRED)
        cleaned += 1
    return cleaned

"""Resumable uploads: a file sent to the inbox in parts, so a broken connection costs one part.

A part is `PUT /api/inbox/{name}` with `Content-Range: bytes START-END/TOTAL`. Parts wait in
the inbox store under `partial/<submitter id>/<name>/<TOTAL>/<START>-<END+1>-<unix time>`,
where nothing else looks (ingestion only reads objects a File points to). The key carries all
the state: no table, and a submitter can only ever reach their own prefix. The last part is not
stored on its own: the stored parts and the last part's body are streamed together into the
inbox object, which is then registered exactly as a whole-file upload, so nothing partial is
ever ingested.
"""

import logging
import re
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings

from gdi_archive.common.errors import Conflict, InvalidInput, LengthRequired, TooLarge
from gdi_archive.storage import StorageError, inbox_store

from . import inbox, names

log = logging.getLogger(__name__)

PREFIX = "partial"
MAX_IDLE_SECONDS = 24 * 3600  # a partial upload untouched for a day is removed
_RANGE = re.compile(r"bytes (\d{1,18})-(\d{1,18})/(\d{1,18})")
_PART = re.compile(r"(\d+)/(\d+)-(\d+)-(\d+)")


class OffsetMismatch(Conflict):
    """A part that does not start where the upload stands; the answer says where that is."""

    code = "UploadOffsetMismatch"

    def __init__(self, detail: str, *, offset: int, total: int | None):
        super().__init__(detail)
        self.offset, self.total = offset, total
        self.extra = {"bytes_received": offset, "bytes_total": total}
        self.headers = {"Upload-Offset": str(offset)}


@dataclass
class PartialUpload:
    name: str
    total: int
    received: int = 0
    touched: int = 0
    keys: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"name": self.name, "status": "partial", "bytes_received": self.received, "bytes_total": self.total}


def parse_content_range(value: str) -> tuple[int, int, int]:
    """(start, end inclusive, total) of `bytes START-END/TOTAL`, or InvalidInput."""
    match = _RANGE.fullmatch((value or "").strip())
    if not match:
        raise InvalidInput("Content-Range must look like 'bytes START-END/TOTAL' (END inclusive, as in HTTP).")
    start, end, total = (int(group) for group in match.groups())
    if start > end or end >= total:
        raise InvalidInput("Content-Range must have START <= END < TOTAL.")
    return start, end, total


def _prefix(submitter, name: str) -> str:
    return f"{PREFIX}/{submitter.pk}/{name}/"


def find(*, submitter, name: str, store=None) -> PartialUpload | None:
    """The unfinished upload of `name` by `submitter`, or None; only contiguous parts count."""
    store = store or inbox_store()
    prefix = _prefix(submitter, name)
    parts = []
    for key in store.list(prefix):
        match = _PART.fullmatch(key[len(prefix) :])
        if match:
            parts.append((int(match[1]), int(match[2]), int(match[3]), int(match[4]), key))
    if not parts:
        return None
    total = max(parts, key=lambda part: part[3])[0]  # the latest part says which file this is
    upload = PartialUpload(name=name, total=total, touched=max(part[3] for part in parts))
    for part_total, start, end, _touched, key in sorted(parts, key=lambda part: (part[1], -part[3])):
        if part_total == total and start == upload.received:
            upload.received = end
            upload.keys.append(key)
    return upload


def discard(*, submitter, name: str, store=None) -> None:
    """Remove every part of `name` (after it was completed, or replaced by another upload)."""
    store = store or inbox_store()
    try:
        keys = list(store.list(_prefix(submitter, name)))
    except StorageError as exc:  # left for the daily clean-up
        log.warning("could not list the parts of %s: %s", name, exc)
        return
    for key in keys:
        inbox.delete_inbox_object(key)


def receive_part(
    *,
    submitter,
    name: str,
    chunks,
    size: int | None,
    content_range: str,
    sha256: str | None = None,
    md5: str | None = None,
    request=None,
):
    """Take one part; returns (PartialUpload, None, None) or, for the last part, (None, file, created).

    A part must start where the upload stands (else OffsetMismatch, 409). A part whose bytes do not
    match its Content-Range is refused and not kept. START 0 with a different TOTAL starts afresh.
    """
    sha256, md5, (start, end, total) = _check_part(
        submitter=submitter, name=name, size=size, content_range=content_range, sha256=sha256, md5=md5
    )
    store = inbox_store()
    current = _current_upload(submitter=submitter, name=name, store=store, start=start, total=total)
    inbox.ensure_room(store, total - start)
    body = inbox.LimitedBody(chunks, end - start + 1)
    if end + 1 < total:
        return (
            _store_part(submitter=submitter, name=name, store=store, body=body, start=start, end=end, total=total),
            None,
            None,
        )
    file, created = _complete(
        submitter=submitter,
        name=name,
        store=store,
        current=current,
        body=body,
        total=total,
        sha256=sha256,
        md5=md5,
        request=request,
    )
    return None, file, created


def _check_part(*, submitter, name, size, content_range, sha256, md5):
    """The part's checksums and range, or a refusal before anything is stored."""
    problem = names.check_inbox_name(name)
    if problem:
        raise InvalidInput(problem)
    sha256 = inbox.checksum(sha256, "SHA-256", 64)
    md5 = inbox.checksum(md5, "MD5", 32)
    start, end, total = parse_content_range(content_range)
    length = end - start + 1
    if size is None:
        raise LengthRequired("Send each part with a Content-Length header.")
    if size != length:
        raise InvalidInput(f"The part has {size} bytes but its Content-Range says {length}; nothing was kept.")
    if total > settings.INBOX_MAX_BYTES:
        raise TooLarge(
            f"The upload is {total} bytes; the inbox accepts at most {settings.INBOX_MAX_BYTES} bytes per file."
        )
    inbox.refuse_if_archived(submitter=submitter, name=name)
    return sha256, md5, (start, end, total)


def _current_upload(*, submitter, name, store, start, total):
    """The unfinished upload this part continues (None for a fresh start), or OffsetMismatch."""
    current = find(submitter=submitter, name=name, store=store)
    if current is not None and current.total != total and start == 0:
        discard(submitter=submitter, name=name, store=store)  # a different file under the same name
        current = None
    received = current.received if current is not None else 0
    if current is not None and current.total != total:
        raise OffsetMismatch(
            f"The unfinished upload of {name} is {current.total} bytes long, not {total}; "
            "send it again from the start.",
            offset=received,
            total=current.total,
        )
    if start != received:
        raise OffsetMismatch(
            f"The server has the first {received} bytes of {name}; send the part starting there.",
            offset=received,
            total=total if current is not None else None,
        )
    return current


def _store_part(*, submitter, name, store, body, start, end, total):
    """Keep a part that is not the last one; a parallel request that won the race undoes it."""
    key = f"{_prefix(submitter, name)}{total}/{start:015d}-{end + 1:015d}-{int(time.time())}"
    inbox.store_upload(store=store, key=key, body=body, name=name, submitter=submitter)
    after = find(submitter=submitter, name=name, store=store)
    if after is None or after.received != end + 1 or key not in after.keys:
        inbox.delete_inbox_object(key)
        offset = after.received if after else 0
        raise OffsetMismatch(
            f"Another part of {name} arrived at the same time; the server has {offset} bytes.",
            offset=offset,
            total=total,
        )
    return after


def _complete(*, submitter, name, store, current, body, total, sha256, md5, request):
    """Stream the stored parts and the last one into one inbox object and register it as an upload."""
    key = f"{submitter.pk}/{uuid.uuid4().hex}/{name}"

    def concatenation():
        for part_key in current.keys if current is not None else []:
            yield from store.iter_range(part_key)
        yield from body

    inbox.store_upload(store=store, key=key, body=concatenation(), name=name, submitter=submitter)
    try:
        file, created = inbox.register_upload(
            submitter=submitter, name=name, key=key, size=total, sha256=sha256, md5=md5, request=request, enqueue=True
        )
    except BaseException:
        inbox.delete_inbox_object(key)
        raise
    discard(submitter=submitter, name=name, store=store)
    return file, created


def remove_abandoned(*, max_idle_seconds: int = MAX_IDLE_SECONDS, now: float | None = None) -> int:
    """Delete unfinished uploads whose latest part is older than `max_idle_seconds`; returns how many."""
    store = inbox_store()
    cutoff = (now or time.time()) - max_idle_seconds
    newest: dict[str, int] = {}
    keys: dict[str, list[str]] = {}
    try:
        for key in store.list(f"{PREFIX}/"):
            parts = key.split("/")
            if len(parts) != 5:
                continue
            upload = "/".join(parts[:3])
            match = _PART.fullmatch(f"{parts[3]}/{parts[4]}")
            touched = int(match[4]) if match else 0
            newest[upload] = max(newest.get(upload, 0), touched)
            keys.setdefault(upload, []).append(key)
    except StorageError as exc:
        log.warning("could not list unfinished uploads: %s", exc)
        return 0
    removed = 0
    for upload, touched in newest.items():
        if touched < cutoff:
            for key in keys[upload]:
                inbox.delete_inbox_object(key)
            removed += 1
    if removed:
        log.info("removed %d unfinished upload(s) idle for more than %d s", removed, max_idle_seconds)
    return removed

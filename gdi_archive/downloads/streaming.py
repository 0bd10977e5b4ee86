"""HTTP byte streams: `Range`, `ETag` and `If-Range` over a resource made of pieces.

A resource is a list of pieces (bytes held in memory, such as a header, or a byte range of a
stored object); a response streams any sub-range of it in large chunks straight from storage,
so memory stays flat whatever the file size.
"""

import hashlib
import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.http import HttpResponse, StreamingHttpResponse

from gdi_archive import storage
from gdi_archive.common.errors import json_error

# Big enough that per-chunk overhead vanishes, small enough that many parallel downloads stay
# cheap: memory per download is about one chunk, whatever the file size.
STREAM_CHUNK = 1024 * 1024
log = logging.getLogger(__name__)
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Piece:
    data: bytes | None = None  # in-memory bytes, or
    location: str | None = None  # a key in the archive store, with
    start: int = 0
    end: int = 0  # exclusive
    store: str = "archive"

    @property
    def length(self) -> int:
        return len(self.data) if self.data is not None else self.end - self.start


def _store(name: str):
    return storage.outbox_store() if name == "outbox" else storage.archive_store()


def open_pieces(pieces: list[Piece], start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end) of the concatenated pieces, with the first read from storage done now.

    Reading one chunk before the response starts means an unreachable store is known while the
    status can still say so (a 503), instead of a 200 that is cut after its first bytes.
    """
    parts: list = []
    offset = 0
    probed = False
    for piece in pieces:
        lo, hi = max(start, offset), min(end, offset + piece.length)
        if lo < hi:
            if piece.data is not None:
                parts.append((piece.data[lo - offset : hi - offset],))
            else:
                base = piece.start - offset
                chunks = _store(piece.store).iter_range(piece.location, base + lo, base + hi, chunk_size=STREAM_CHUNK)
                if not probed:
                    chunks = itertools.chain((next(chunks, b""),), chunks)
                    probed = True
                parts.append(chunks)
        offset += piece.length
        if offset >= end:
            break
    return itertools.chain.from_iterable(parts)


class Unsatisfiable(Exception):
    pass


def parse_range(value: str | None, length: int) -> tuple[int, int] | None:
    """A single `bytes=` range as half-open offsets; None to ignore the header (serve it all).

    Several ranges in one header are ignored (allowed by RFC 9110), as is anything malformed.
    """
    if not value:
        return None
    match = _RANGE.match(value)
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last N bytes
        n = int(last)
        if n == 0:
            raise Unsatisfiable()
        return max(0, length - n), length
    lo = int(first)
    hi = length if last == "" else min(int(last) + 1, length)
    if last != "" and int(last) < lo:
        return None
    if lo >= length:
        raise Unsatisfiable()
    return lo, hi


def make_etag(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode())
        digest.update(b"\0")
    return f'"{digest.hexdigest()[:40]}"'


def stream_response(
    request,
    *,
    pieces: list[Piece],
    etag: str,
    filename: str | None = None,
    content_type: str = "application/octet-stream",
) -> HttpResponse:
    """200 with the whole resource, or 206 for a satisfiable `Range` (honouring `If-Range`)."""
    length = sum(piece.length for piece in pieces)
    start, end, status = 0, length, 200
    range_header = request.META.get("HTTP_RANGE")
    if_range = request.META.get("HTTP_IF_RANGE")
    if range_header and (not if_range or if_range.strip() == etag):
        try:
            wanted = parse_range(range_header, length)
        except Unsatisfiable:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{length}"
            response["ETag"] = etag
            response["Accept-Ranges"] = "bytes"
            return response
        if wanted is not None:
            start, end = wanted
            status = 206
    try:
        body = open_pieces(pieces, start, end)
    except storage.StorageUnavailable as exc:
        log.warning("download %s refused: storage unreachable: %s", etag, exc)
        return json_error(
            "StorageUnavailable",
            "The archive's storage cannot be reached just now. Please try again in a few minutes.",
            503,
            headers={"Retry-After": "60"},
        )
    except storage.StorageError as exc:
        log.error("download %s refused: stored object unreadable: %s", etag, exc)
        return json_error(
            "InternalError", "This file cannot be read from the archive just now; the operators have been alerted.", 500
        )
    response = StreamingHttpResponse(body, status=status, content_type=content_type)
    response["Content-Length"] = str(end - start)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-store"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end - 1}/{length}"
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def served_bytes(request, length: int) -> tuple[int, int]:
    """The byte range a response will send, for the audit log (mirrors stream_response)."""
    range_header = request.META.get("HTTP_RANGE")
    try:
        wanted = parse_range(range_header, length) if range_header else None
    except Unsatisfiable:
        return 0, 0
    return wanted or (0, length)

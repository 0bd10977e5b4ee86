"""Downloads: the per-client header, what part of the stored body goes with it, and the audit.

The body is never decrypted here: a download is a new header (the file's data key sealed for
the client, plus an edit list for a range) followed by stored segments, unchanged.
"""

import hashlib
import hmac
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from gdi_archive.audit import services as audit
from gdi_archive.catalogue.models import File
from gdi_archive.common.errors import ArchiveError, InvalidInput, RangeNotSatisfiable, ServiceUnavailable
from gdi_archive.crypt4gh import segments
from gdi_archive.crypt4gh.errors import Crypt4GHError, NotForOurKey, UnsupportedHeader
from gdi_archive.crypt4gh.errors import RangeNotSatisfiable as RangeOutsideFile
from gdi_archive.crypt4gh.header import OpenedHeader, open_header, reseal_header

from .keys import ClientKey
from .models import ServedHeader

log = logging.getLogger(__name__)
WHOLE = "whole"


def archive_keys() -> list[bytes]:
    from gdi_archive.keyring.archive import archive_secret_keys

    return archive_secret_keys()


def body_size(file: File) -> int:
    """Size of the stored body (segments only), from the plaintext size."""
    return segments.body_size(file.plaintext_size or 0)


def _synthetic_secret() -> bytes:
    """The server secret the same-bytes-every-time headers are derived under (from SECRET_KEY;
    rotating it changes every served header, so a resume across the rotation starts again)."""
    return hmac.new(settings.SECRET_KEY.encode(), b"gdi-archive served header secret", hashlib.sha256).digest()


def opened_header(file: File) -> OpenedHeader:
    """The file's stored header opened with the archive keys (its data keys), once per File
    instance, that is once per request: an htsget ticket needs the data keys for each edge
    block it decrypts, for its new segments and for the client's header (an X25519 exchange
    and a decryption each time). Kept on the instance only, never beyond the request."""
    keys, header = archive_keys(), bytes(file.header)
    kept = getattr(file, "_opened_header", None)
    if kept is not None and kept[0] == header and kept[1] == keys:
        return kept[2]
    opened = open_header(header, keys)
    file._opened_header = (header, keys, opened)
    return opened


def _make_header(file: File, key: ClientKey, edit_list, *, synthetic: bool = False) -> bytes:
    try:
        return reseal_header(
            opened_header(file),
            key.raw,
            edit_list=edit_list,
            synthetic_secret=_synthetic_secret() if synthetic else None,
        )
    except NotForOurKey:
        log.error("no archive key opens the header of %s", file.accession)
        raise ServiceUnavailable("The archive cannot open this file's key right now; please try again later.") from None
    except UnsupportedHeader as exc:
        raise InvalidInput(str(exc)) from None


def served_header(*, file: File, key: ClientKey, span: str, edit_list=None) -> bytes:
    """The header for (file, key, span): the same bytes every time, derived, not stored
    (`crypt4gh.header._synthetic`), so that a download interrupted and resumed with `Range`
    continues the same stream and a new range costs no write. `span` is implied by
    `edit_list` (the header holds it), so it takes no part in the derivation."""
    return _make_header(file, key, edit_list, synthetic=True)


def kept_header(*, file: File, key: ClientKey) -> tuple[int, bytes]:
    """(id, bytes) of the stored whole-file header for (file, key), stored the first time: a DRS
    access URL names it by id. New rows hold the derived header, so they give the same bytes as
    `served_header`; a row kept before headers were derived keeps its own bytes."""
    return _keep_first(
        file=file, key_fingerprint=key.fingerprint, span=WHOLE, header=served_header(file=file, key=key, span=WHOLE)
    )


def _keep_first(*, file: File, key_fingerprint: str, span: str, header: bytes) -> tuple[int, bytes]:
    """Store `header` unless another request stored one for the same (file, key, span) first,
    and answer the stored row either way: one statement (INSERT ... ON CONFLICT ... RETURNING,
    PostgreSQL and SQLite >= 3.35), no savepoint, no second SELECT after a lost race."""
    table = connection.ops.quote_name(ServedHeader._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (file_id, key_fingerprint, span, header, created_at) VALUES (%s, %s, %s, %s, %s) "
            f"ON CONFLICT (file_id, key_fingerprint, span) DO UPDATE SET header = {table}.header RETURNING id, header",
            [file.pk, key_fingerprint, span, header, timezone.now()],
        )
        row = cursor.fetchone()
        return row[0], bytes(row[1])


def fresh_header(*, file: File, key: ClientKey, edit_list=None) -> bytes:
    """A header for a one-off stream (an htsget ticket carries it inline, an export stores it)."""
    return _make_header(file, key, edit_list)


@dataclass(frozen=True)
class Download:
    """A Crypt4GH stream: `header`, then stored body bytes [body_start, body_end)."""

    file: File
    header: bytes
    span: str
    body_start: int
    body_end: int
    start: int | None = None  # plaintext range, None for the whole file
    end: int | None = None

    @property
    def body_length(self) -> int:
        return self.body_end - self.body_start

    @property
    def length(self) -> int:
        return len(self.header) + self.body_length


def parse_offsets(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """`?start=&end=` as whole numbers; both absent means the whole file."""
    values = []
    for name, raw in (("start", start), ("end", end)):
        if raw in (None, ""):
            values.append(None)
            continue
        if not str(raw).isdigit():
            raise InvalidInput(f"`{name}` must be a whole number of bytes, 0 or more.")
        values.append(int(raw))
    if values[0] is not None and values[1] is not None and values[1] < values[0]:
        raise InvalidInput("`end` must not be smaller than `start`.")
    return values[0], values[1]


def plan_range_or_error(file: File, start: int, end: int | None) -> segments.RangePlan:
    try:
        return segments.plan_range(file.plaintext_size or 0, start, end)
    except RangeOutsideFile:
        raise RangeNotSatisfiable(
            f"The range starts at byte {start}, but the file has {file.plaintext_size or 0} bytes."
        ) from None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def plan_download(*, file: File, key: ClientKey, start: int | None = None, end: int | None = None) -> Download:
    size = body_size(file)
    if start is None and end is None:
        return Download(
            file=file, header=served_header(file=file, key=key, span=WHOLE), span=WHOLE, body_start=0, body_end=size
        )
    plan = plan_range_or_error(file, start or 0, end)
    span = f"{plan.start}-{plan.end}"
    header = served_header(file=file, key=key, span=span, edit_list=plan.edit_list)
    return Download(
        file=file,
        header=header,
        span=span,
        body_start=plan.body_start,
        body_end=plan.body_end,
        start=plan.start,
        end=plan.end,
    )


def record_download(*, request, actor, file: File, action: str = "download.file", details: dict) -> None:
    """Audit a download (or ticket) with the bytes it is planned to send."""
    audit.record(action=action, actor=actor, target=file, request=request, details=details)


def crypt4gh_error(exc: Crypt4GHError) -> ArchiveError:
    return InvalidInput(str(exc))

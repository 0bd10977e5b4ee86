"""htsget tickets: plan the blocks for a query from the file's index, then point at them.

Encrypted tickets (`encryptionScheme=C4GH`) are a `data:` URL holding a Crypt4GH header for
the client's key (with the edit list that trims the blocks to the planned plaintext ranges),
then `Range` requests for the stored segments. Concatenated they form one Crypt4GH file.
"""

import base64
import functools
import logging

from django.conf import settings

from gdi_archive import storage
from gdi_archive.catalogue.models import File
from gdi_archive.crypt4gh import segments

from .. import selectors, services
from ..blocks import BODY, PLAIN, block_url
from ..genomic import headers as format_headers
from ..genomic.assemble import New, resolve
from ..genomic.indexes import IndexError_, parse_index
from ..genomic.planner import Stored, UnknownReference, plan_pieces
from ..keys import ClientKey
from .params import HtsgetError, HtsgetQuery

log = logging.getLogger(__name__)
NAME_READERS = {
    "BAM": format_headers.bam_reference_names,
    "BCF": format_headers.bcf_reference_names,
    "CRAM": format_headers.cram_reference_names,
}
MEDIA = {"BAM": "vnd.ga4gh.bam", "CRAM": "vnd.ga4gh.cram", "VCF": "vnd.ga4gh.vcf", "BCF": "vnd.ga4gh.bcf"}


def read_plaintext(file: File, start: int, end: int) -> bytes:
    """Decrypt plaintext [start, end) of a stored file in memory (indexes, format headers: small)."""
    if end <= start:
        return b""
    plan = segments.plan_range(file.plaintext_size, start, end)
    opened = services.opened_header(file)
    chunks = storage.archive_store().iter_range(file.location, plan.body_start, plan.body_end)
    plain = segments.decrypt_segments(chunks, opened.session_keys, start_segment=plan.first_segment)
    return b"".join(segments.apply_edit_list(plain, plan.edit_list))


@functools.lru_cache(maxsize=64)
def _parsed_index(index_id: int, stored_sha256: str, kind: str):
    index_file = File.objects.get(pk=index_id)
    return parse_index(kind, read_plaintext(index_file, 0, index_file.plaintext_size or 0))


@functools.lru_cache(maxsize=256)
def _reference_names(file_id: int, stored_sha256: str, fmt: str, header_end: int) -> tuple[str, ...]:
    file = File.objects.get(pk=file_id)
    return tuple(NAME_READERS[fmt](read_plaintext(file, 0, min(file.plaintext_size, header_end))))


def load_index(file: File):
    """The file's newest ready index, parsed (cached per index and content); its row comes with
    the file when `get_file_for_download(with_index=True)` fetched it."""
    row = getattr(file, "ready_index_row", False)
    if row is False:
        index_file = selectors.ready_index(file)
        row = (index_file.pk, index_file.stored_sha256, index_file.format) if index_file is not None else None
    if row is None:
        return None
    try:
        return _parsed_index(*row)
    except IndexError_ as exc:
        log.warning("index of %s cannot be read: %s", file.accession, exc)
        return None


def _first_data_offset(index) -> int:
    if hasattr(index, "containers"):
        containers = index.containers()
        return containers[0] if containers else 0
    chunks = [v >> 16 for v, _ in index.all_chunks()]
    return min(chunks) if chunks else 0


def planned_parts(file: File, query: HtsgetQuery) -> list:
    """Stored plaintext ranges and new edge blocks of `file` that answer `query`, in file order."""
    size = file.plaintext_size or 0
    if query.regions is None and not query.header_only:
        return [Stored(0, size)]
    index = load_index(file)
    if index is None:
        if query.header_only:
            raise HtsgetError(
                "InvalidInput", "This file has no index, so its header cannot be sent alone; ask for the whole file."
            )
        # Without an index the whole file is a valid (superset) answer to any region.
        return [Stored(0, size)]

    def names():
        if file.format not in NAME_READERS:
            raise IndexError_("The index does not name the references.")
        # The header ends where the first indexed block starts; read one BGZF block more.
        return list(
            _reference_names(file.pk, file.stored_sha256, file.format, _first_data_offset(index) + 65536 + 1024)
        )

    try:
        pieces = plan_pieces(index=index, size=size, regions=query.regions, names=names, header_only=query.header_only)
        return resolve(pieces, lambda start, end: read_plaintext(file, start, end), size)
    except UnknownReference as exc:
        raise HtsgetError("NotFound", f"Reference {exc.args[0]!r} is not in this file.", 404) from None
    except (IndexError_, ValueError) as exc:
        log.warning("cannot plan regions for %s: %s", file.accession, exc)
        raise HtsgetError("InternalServerError", "The file's index cannot be read.", 500) from None


def _body_url(file: File, start: int, end: int, bound: dict) -> dict:
    """A link to stored body bytes through the archive, bound to the person (`links.bind`): each
    request re-checks their grant, then streams or redirects to a fresh presigned URL."""
    url = block_url(file, BODY, start, end, bound=bound, ttl=settings.SIGNED_URL_TTL)
    return {"url": url, "headers": {"Range": f"bytes={start}-{end - 1}"}, "class": "body"}


def _data_url(data: bytes, media: str = "application/octet-stream") -> str:
    return f"data:{media};base64," + base64.b64encode(data).decode()


def _edit_list(operations: list[tuple[str, int]]) -> list[int]:
    """Alternating discard/keep lengths (starting with a discard) from a list of operations."""
    lengths, kind, current = [], "discard", 0
    for op, n in operations:
        if n <= 0:
            continue
        if op == kind:
            current += n
        else:
            lengths.append(current)
            kind, current = op, n
    lengths.append(current)
    if kind == "discard":
        lengths.pop()  # a list ending on a keep drops the rest anyway
    return lengths


def _full_segments_only(file: File, parts: list) -> list:
    """The file's short last segment may only come last: elsewhere its bytes are re-sent as new."""
    size = file.plaintext_size or 0
    last_start = (size - 1) // segments.SEGMENT_SIZE * segments.SEGMENT_SIZE if size % segments.SEGMENT_SIZE else size
    out = []
    for number, part in enumerate(parts):
        final = number == len(parts) - 1
        if isinstance(part, Stored) and not final and part.end > last_start:
            if part.start < last_start:
                out.append(Stored(part.start, last_start))
            out.append(New(read_plaintext(file, max(part.start, last_start), part.end)))
        else:
            out.append(part)
    return out


def encrypted_ticket(file: File, parts: list, key: ClientKey, *, bound: dict) -> tuple[list[dict], int]:
    """A data: URL with the header (and edit list), then stored segments and any new segments."""
    size = file.plaintext_size or 0
    if parts == [Stored(0, size)]:
        header = services.fresh_header(file=file, key=key)
        body = services.body_size(file)
        return [{"url": _data_url(header), "class": "header"}, _body_url(file, 0, body, bound)], len(header) + body
    session_key = None
    operations, body_urls, total = [], [], 0
    for part in _full_segments_only(file, parts):
        if isinstance(part, Stored):
            plan = segments.plan_range(size, part.start, part.end)
            covered = (
                plan.first_segment * segments.SEGMENT_SIZE,
                min((plan.last_segment + 1) * segments.SEGMENT_SIZE, size),
            )
            operations += [
                ("discard", part.start - covered[0]),
                ("keep", part.end - part.start),
                ("discard", covered[1] - part.end),
            ]
            body_urls.append(_body_url(file, plan.body_start, plan.body_end, bound))
            total += plan.body_end - plan.body_start
        else:
            if session_key is None:
                session_key = services.opened_header(file).session_keys[0]
            # Every segment but the last must be full: pad, and let the edit list drop the padding.
            padding = -len(part.data) % segments.SEGMENT_SIZE
            cipher = b"".join(bytes(s) for s in segments.encrypt_segments([part.data + bytes(padding)], session_key))
            operations += [("keep", len(part.data)), ("discard", padding)]
            body_urls.append({"url": _data_url(cipher), "class": "body"})
            total += len(cipher)
    header = services.fresh_header(file=file, key=key, edit_list=_edit_list(operations))
    return [{"url": _data_url(header), "class": "header"}, *body_urls], total + len(header)


def plaintext_ticket(file: File, parts: list, *, bound: dict) -> tuple[list[dict], int]:
    urls, total = [], 0
    for part in parts:
        if isinstance(part, Stored):
            urls.append(
                {
                    "url": block_url(file, PLAIN, part.start, part.end, bound=bound),
                    "headers": {"Range": f"bytes={part.start}-{part.end - 1}"},
                }
            )
            total += part.end - part.start
        else:
            urls.append({"url": _data_url(part.data, f"application/{MEDIA[file.format]}")})
            total += len(part.data)
    return urls, total

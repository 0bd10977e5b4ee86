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
from gdi_archive.crypt4gh.header import open_header

from .. import selectors, services
from ..blocks import BODY, PLAIN, block_url
from ..genomic import headers as format_headers
from ..genomic.indexes import IndexError_, parse_index
from ..genomic.planner import UnknownReference, plan_blocks
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
    opened = open_header(bytes(file.header), services.archive_keys())
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
    index_file = selectors.ready_index(file)
    if index_file is None:
        return None
    try:
        return _parsed_index(index_file.pk, index_file.stored_sha256, index_file.format)
    except IndexError_ as exc:
        log.warning("index of %s cannot be read: %s", file.accession, exc)
        return None


def _first_data_offset(index) -> int:
    if hasattr(index, "containers"):
        containers = index.containers()
        return containers[0] if containers else 0
    chunks = [v >> 16 for v, _ in index.all_chunks()]
    return min(chunks) if chunks else 0


def planned_ranges(file: File, query: HtsgetQuery) -> list[tuple[int, int]]:
    """Plaintext byte ranges of `file` that answer `query`, in file order."""
    size = file.plaintext_size or 0
    if query.regions is None and not query.header_only:
        return [(0, size)]
    index = load_index(file)
    if index is None:
        if query.header_only:
            raise HtsgetError("InvalidInput", "This file has no index, so its header cannot be sent alone; ask for the whole file.")
        # Without an index the whole file is a valid (superset) answer to any region.
        return [(0, size)]

    def names():
        if file.format not in NAME_READERS:
            raise IndexError_("The index does not name the references.")
        # The header ends where the first indexed block starts; read one BGZF block more.
        return list(_reference_names(file.pk, file.stored_sha256, file.format, _first_data_offset(index) + 65536 + 1024))

    try:
        plan = plan_blocks(index=index, size=size, regions=query.regions, names=names, header_only=query.header_only)
    except UnknownReference as exc:
        raise HtsgetError("NotFound", f"Reference {exc.args[0]!r} is not in this file.", 404) from None
    except IndexError_ as exc:
        log.warning("cannot plan regions for %s: %s", file.accession, exc)
        raise HtsgetError("InternalServerError", "The file's index cannot be read.", 500) from None
    return plan.ranges


def _body_url(file: File, start: int, end: int) -> dict:
    ttl = settings.SIGNED_URL_TTL
    try:
        url = storage.archive_store().presigned_url(file.location, expires_in=ttl, start=start, end=end)
    except storage.StorageError:
        url = None
    url = url or block_url(file, BODY, start, end, ttl=ttl)
    return {"url": url, "headers": {"Range": f"bytes={start}-{end - 1}"}, "class": "body"}


def encrypted_ticket(file: File, ranges: list[tuple[int, int]], key: ClientKey) -> tuple[list[dict], int]:
    size = file.plaintext_size or 0
    whole = ranges == [(0, size)]
    plan = segments.plan_regions(size, ranges)
    header = services.fresh_header(file=file, key=key, edit_list=None if whole else plan.edit_list)
    urls = [{"url": "data:application/octet-stream;base64," + base64.b64encode(header).decode(), "class": "header"}]
    urls += [_body_url(file, start, end) for start, end in plan.spans]
    return urls, len(header) + plan.body_length


def plaintext_ticket(file: File, ranges: list[tuple[int, int]]) -> tuple[list[dict], int]:
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] and merged[-1][0] != 0:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    urls, total = [], 0
    for number, (start, end) in enumerate(merged):
        urls.append({"url": block_url(file, PLAIN, start, end), "headers": {"Range": f"bytes={start}-{end - 1}"},
                     "class": "header" if number == 0 and start == 0 and len(merged) > 1 else "body"})
        total += end - start
    if len(merged) == 1:
        for url in urls:
            url.pop("class")
    return urls, total

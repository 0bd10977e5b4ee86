"""Signed block URLs: what htsget tickets and DRS access URLs point at.

`/api/blocks/{acc}` is the stored body (encrypted segments) or, only when the operator allows
plaintext downloads, the plaintext; the signature limits which bytes may be fetched and until
when. Requests carry no token: the URL is the credential, short-lived and bound to the range.
"""

from django.conf import settings
from django.http import StreamingHttpResponse
from django.views.decorators.http import require_GET

from gdi_archive import storage
from gdi_archive.catalogue.models import File
from gdi_archive.common.errors import ArchiveError, NotFound, RangeNotSatisfiable, ServiceUnavailable, json_error
from gdi_archive.crypt4gh import segments

from . import services, signing
from .models import ServedHeader
from .streaming import Piece, Unsatisfiable, make_etag, parse_range, stream_response

BODY, PLAIN, STREAM = "body", "plain", "stream"


def block_url(
    file: File, kind: str, start: int, end: int, *, header_id: int | None = None, ttl: int | None = None
) -> str:
    fields = {"kind": kind, "range": f"{start}-{end}"}
    if header_id is not None:
        fields["header"] = header_id
    fields["file"] = file.accession
    return signing.signed_url(f"/api/blocks/{file.accession}", fields, ttl=ttl)


def _plaintext(file: File, start: int, end: int):
    """Decrypt only the segments covering plaintext [start, end) and yield those bytes."""
    from gdi_archive.crypt4gh.header import open_header

    plan = segments.plan_range(file.plaintext_size, start, end)
    opened = open_header(bytes(file.header), services.archive_keys())
    chunks = storage.archive_store().iter_range(file.location, plan.body_start, plan.body_end)
    plain = segments.decrypt_segments(chunks, opened.session_keys, start_segment=plan.first_segment)
    yield from segments.apply_edit_list(plain, plan.edit_list)


def _window_response(request, *, length: int, window: tuple[int, int], etag: str, produce):
    """Serve bytes of a resource of `length`, but only inside the signed `window`."""
    lo, hi = window
    try:
        wanted = parse_range(request.META.get("HTTP_RANGE"), length)
    except Unsatisfiable:
        wanted = (length, length)
    start, end = wanted or (lo, hi)
    if start < lo or end > hi or start >= end:
        return json_error(RangeNotSatisfiable("This link covers other bytes."))
    response = StreamingHttpResponse(produce(start, end), status=206, content_type="application/octet-stream")
    response["Content-Length"] = str(end - start)
    response["Content-Range"] = f"bytes {start}-{end - 1}/{length}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def block(request, accession: str):
    try:
        fields = signing.verify(
            request.GET, ("kind", "range", "file") + (("header",) if "header" in request.GET else ())
        )
        if fields["file"] != accession:
            raise NotFound("This link is not valid.")
        file = File.objects.filter(accession=accession, status=File.Status.READY).first()
        if file is None:
            raise NotFound("This link is not valid.")
        lo, hi = (int(v) for v in fields["range"].split("-"))
        kind = fields["kind"]
        if kind == BODY:
            length = services.body_size(file)
            return _window_response(
                request,
                length=length,
                window=(lo, min(hi, length)),
                etag=make_etag("content", file.accession, file.stored_sha256, 0, length),
                produce=lambda s, e: storage.archive_store().iter_range(file.location, s, e),
            )
        if kind == PLAIN:
            if not settings.PLAINTEXT_DOWNLOADS:
                raise NotFound("Plaintext downloads are not enabled.")
            length = file.plaintext_size
            return _window_response(
                request,
                length=length,
                window=(lo, min(hi, length)),
                etag=make_etag("plain", file.accession, file.sha256),
                produce=lambda s, e: _plaintext(file, s, e),
            )
        if kind == STREAM:
            served = ServedHeader.objects.filter(pk=fields["header"], file=file).first()
            if served is None:
                raise NotFound("This link is not valid.")
            header = bytes(served.header)
            pieces = [Piece(data=header)]
            if hi > lo:
                pieces.append(Piece(location=file.location, start=lo, end=hi))
            return stream_response(
                request,
                pieces=pieces,
                etag=make_etag("stream", file.accession, file.stored_sha256, header, lo, hi),
                filename=f"{file.name}.c4gh",
            )
        raise NotFound("This link is not valid.")
    except ArchiveError as exc:
        return json_error(exc)
    except storage.ObjectNotFound:
        return json_error(NotFound("This link is not valid."))
    except storage.StorageUnavailable:
        return json_error(ServiceUnavailable("The archive storage is not reachable; please retry shortly."))

"""Signed block URLs: what htsget tickets and DRS access URLs point at.

`/api/blocks/{acc}` is the stored body (encrypted segments) or, only when the operator allows
plaintext downloads, the plaintext; the signature limits which bytes may be fetched and until
when. Requests carry no token: the URL is the credential, short-lived and bound to the person,
the file and the range (`links`), and every request re-checks that person's grant before a
byte goes out. On S3 the archive then answers with a redirect to a presigned URL made for
exactly the bytes asked for, living at most SIGNED_URL_TTL; presigned URLs are never put in
tickets, where they would outlive a revocation.
"""

from django.conf import settings
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.views.decorators.http import require_GET

from gdi_archive import storage
from gdi_archive.catalogue.models import File
from gdi_archive.common.errors import ArchiveError, NotFound, RangeNotSatisfiable, ServiceUnavailable, json_error
from gdi_archive.crypt4gh import segments

from . import links, services, signing
from .models import ServedHeader
from .streaming import Piece, Unsatisfiable, make_etag, parse_range, stream_response

BODY, PLAIN, STREAM = "body", "plain", "stream"


def block_url(
    file: File, kind: str, start: int, end: int, *, bound: dict, header_id: int | None = None, ttl: int | None = None
) -> str:
    """A signed link to bytes [start, end) of `file` for the person `bound` names (`links.bind`)."""
    fields = {"kind": kind, "range": f"{start}-{end}", **{name: bound[name] for name in links.FIELDS}}
    if header_id is not None:
        fields["header"] = header_id
    fields["file"] = file.accession
    ttl = links.link_ttl(bound, ttl or settings.SIGNED_URL_TTL)
    return signing.signed_url(f"/api/blocks/{file.accession}", fields, ttl=ttl)


def presigned_redirect(store, location: str, *, whole: int, start: int, end: int, ranged: bool):
    """A redirect to a fresh presigned URL for bytes [start, end) of an object of size `whole`, or
    None when the store cannot presign or the client's request cannot carry that range (the
    Range header is part of the signature, so it must be exactly the one the client sends)."""
    if not ranged and (start, end) != (0, whole):
        return None
    try:
        url = store.presigned_url(
            location,
            expires_in=settings.SIGNED_URL_TTL,
            **({"start": start, "end": end} if ranged else {}),
        )
    except storage.StorageError:
        return None
    if not url:
        return None
    response = HttpResponseRedirect(url, status=307)
    response.status_code = 307
    response["Cache-Control"] = "private, no-store"
    return response


def _plaintext(file: File, start: int, end: int):
    """Decrypt only the segments covering plaintext [start, end) and yield those bytes."""
    from gdi_archive.crypt4gh.header import open_header

    plan = segments.plan_range(file.plaintext_size, start, end)
    opened = open_header(bytes(file.header), services.archive_keys())
    chunks = storage.archive_store().iter_range(file.location, plan.body_start, plan.body_end)
    plain = segments.decrypt_segments(chunks, opened.session_keys, start_segment=plan.first_segment)
    yield from segments.apply_edit_list(plain, plan.edit_list)


def _window_response(request, *, length: int, window: tuple[int, int], etag: str, produce, redirect=None):
    """Serve bytes of a resource of `length`, but only inside the signed `window` (or, given
    `redirect(start, end, ranged)`, send the client to a fresh presigned URL for them)."""
    lo, hi = window
    try:
        wanted = parse_range(request.META.get("HTTP_RANGE"), length)
    except Unsatisfiable:
        wanted = (length, length)
    start, end = wanted or (lo, hi)
    if start < lo or end > hi or start >= end:
        return json_error(RangeNotSatisfiable("This link covers other bytes."))
    if redirect is not None:
        answer = redirect(start, end, wanted is not None)
        if answer is not None:
            return answer
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
            request.GET, ("kind", "range", "file", *links.FIELDS) + (("header",) if "header" in request.GET else ())
        )
        if fields["file"] != accession:
            raise NotFound("This link is not valid.")
        file = File.objects.filter(accession=accession, status=File.Status.READY).first()
        if file is None or not links.still_granted(fields, file):
            raise NotFound("This link is not valid, or the access it was made for has ended.")
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
                redirect=lambda s, e, ranged: presigned_redirect(
                    storage.archive_store(), file.location, whole=length, start=s, end=e, ranged=ranged
                ),
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

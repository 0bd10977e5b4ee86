"""`/api/files/{acc}`, `/header`, `/content`: Crypt4GH streams for the client's key (SDA shape)."""

from django.http import HttpResponse
from rest_framework.response import Response
from rest_framework.views import APIView

from gdi_archive.common.serializers import validated

from . import schema, selectors, services
from .keys import client_key
from .streaming import Piece, make_etag, served_bytes, stream_response


class BinaryAPIView(APIView):
    """An API view whose success answers are bytes, so any `Accept` is fine."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


def _download(request, accession: str):
    file = selectors.get_file_for_download(request=request, accession=accession)
    key = client_key(request)
    start, end = services.parse_offsets(request.query_params.get("start"), request.query_params.get("end"))
    return services.plan_download(file=file, key=key, start=start, end=end), key


def _audit(request, download, key, *, part: str, length: int) -> None:
    lo, hi = served_bytes(request, length)
    services.record_download(
        request=request,
        actor=selectors.actor_of(request),
        file=download.file,
        details={
            "part": part,
            "plaintext_range": download.span,
            "http_range": request.META.get("HTTP_RANGE", ""),
            "bytes": hi - lo,
            "key_fingerprint": key.fingerprint,
        },
    )


class FileStream(BinaryAPIView):
    """The whole Crypt4GH stream: new header, then the stored segments that cover the range."""

    @schema.file_stream
    def get(self, request, accession):
        download, key = _download(request, accession)
        file = download.file
        pieces = [Piece(data=download.header)]
        if download.body_length:
            pieces.append(Piece(location=file.location, start=download.body_start, end=download.body_end))
        _audit(request, download, key, part="stream", length=download.length)
        etag = make_etag(
            "stream", file.accession, file.stored_sha256, download.header, download.body_start, download.body_end
        )
        return stream_response(request, pieces=pieces, etag=etag, filename=f"{file.name}.c4gh")


class FileHeader(BinaryAPIView):
    """The re-encrypted header alone (with the edit list when a range is asked for)."""

    @schema.file_header
    def get(self, request, accession):
        download, key = _download(request, accession)
        _audit(request, download, key, part="header", length=len(download.header))
        response = HttpResponse(download.header, content_type="application/octet-stream")
        response["ETag"] = make_etag("header", download.header)
        response["Cache-Control"] = "private, no-store"
        return response


class FileContent(BinaryAPIView):
    """The stored body alone (the segments covering `?start=&end=`, if given); `Range` works."""

    @schema.file_content
    def get(self, request, accession):
        file = selectors.get_file_for_download(request=request, accession=accession)
        start, end = services.parse_offsets(request.query_params.get("start"), request.query_params.get("end"))
        body_start, body_end, span = 0, services.body_size(file), services.WHOLE
        if start is not None or end is not None:
            plan = services.plan_range_or_error(file, start or 0, end)
            body_start, body_end, span = plan.body_start, plan.body_end, f"{plan.start}-{plan.end}"
        pieces = [Piece(location=file.location, start=body_start, end=body_end)] if body_end > body_start else []
        lo, hi = served_bytes(request, body_end - body_start)
        services.record_download(
            request=request,
            actor=selectors.actor_of(request),
            file=file,
            details={
                "part": "content",
                "plaintext_range": span,
                "http_range": request.META.get("HTTP_RANGE", ""),
                "bytes": hi - lo,
            },
        )
        etag = make_etag("content", file.accession, file.stored_sha256, body_start, body_end)
        return stream_response(request, pieces=pieces, etag=etag, filename=f"{file.name}.c4gh.body")


class ExportList(APIView):
    """POST `{"files": [...]}` or `{"dataset": acc}` (+ client key) -> 202 `{"id", "status"}`."""

    @schema.export_create
    def post(self, request):
        from . import exports

        data = validated(schema.ExportRequest, request)
        key = client_key(request, body_value=data.get("public_key") or None)
        export = exports.request_export(request=request, files=data.get("files"), dataset=data.get("dataset"), key=key)
        return Response({"id": str(export.id), "status": export.status}, status=202)


class ExportDetail(APIView):
    @schema.export_detail
    def get(self, request, export_id):
        from . import exports

        export = exports.get_export(request=request, export_id=export_id)
        body = {
            "id": str(export.id),
            "status": export.status,
            "bytes_done": export.bytes_done,
            "bytes_total": export.bytes_total,
            "progress": round(export.bytes_done / export.bytes_total, 4) if export.bytes_total else 1.0,
            "files": list(export.items.values_list("file__accession", flat=True)),
            "created_at": export.created_at,
            "finished_at": export.finished_at,
            "expires_at": export.expires_at,
            "error": export.error,
            "links": exports.export_links(export, request=request),
        }
        return Response(body)


def export_file(request, export_id, accession):
    """An export's copy in the outbox, through its signed link (no token: the link is the
    credential). The requester's grant is checked on every request; then the copy is streamed,
    or, when the outbox is S3, the client is redirected to a presigned URL made for this request."""
    from gdi_archive import storage
    from gdi_archive.common.errors import ArchiveError, NotFound, json_error

    from . import exports, signing
    from .blocks import presigned_redirect
    from .models import Export
    from .streaming import Unsatisfiable, parse_range

    try:
        fields = signing.verify(request.GET, ("export", "file"))
        if fields["export"] != str(export_id) or fields["file"] != accession:
            raise NotFound("This link is not valid.")
        export = Export.objects.filter(pk=export_id, status=Export.Status.DONE).select_related("requester").first()
        item = (
            export.items.select_related("file").filter(file__accession=accession, done=True).first() if export else None
        )
        if item is None or not exports.still_allowed(export, item.file):
            raise NotFound("This link is not valid or has expired.")
    except ArchiveError as exc:
        return json_error(exc)
    try:
        wanted = parse_range(request.META.get("HTTP_RANGE"), item.size)
    except Unsatisfiable:
        redirect = None  # the stream answers 416
    else:
        start, end = wanted or (0, item.size)
        redirect = presigned_redirect(
            storage.outbox_store(), item.location, whole=item.size, start=start, end=end, ranged=wanted is not None
        )
    if redirect is not None:
        return redirect
    pieces = [Piece(location=item.location, start=0, end=item.size, store="outbox")]
    return stream_response(
        request,
        pieces=pieces,
        etag=make_etag("export", export.id, accession, item.size),
        filename=item.location.rsplit("/", 1)[-1],
    )

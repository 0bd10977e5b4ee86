"""`/api/files/{acc}`, `/header`, `/content`: Crypt4GH streams for the client's key (SDA shape)."""

from django.http import HttpResponse
from rest_framework.views import APIView

from . import selectors, services
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
        request=request, actor=selectors.actor_of(request), file=download.file,
        details={
            "part": part, "plaintext_range": download.span, "http_range": request.META.get("HTTP_RANGE", ""),
            "bytes": hi - lo, "key_fingerprint": key.fingerprint,
        },
    )


class FileStream(BinaryAPIView):
    """The whole Crypt4GH stream: new header, then the stored segments that cover the range."""

    def get(self, request, accession):
        download, key = _download(request, accession)
        file = download.file
        pieces = [Piece(data=download.header)]
        if download.body_length:
            pieces.append(Piece(location=file.location, start=download.body_start, end=download.body_end))
        _audit(request, download, key, part="stream", length=download.length)
        etag = make_etag("stream", file.accession, file.stored_sha256, download.header, download.body_start, download.body_end)
        return stream_response(request, pieces=pieces, etag=etag, filename=f"{file.name}.c4gh")


class FileHeader(BinaryAPIView):
    """The re-encrypted header alone (with the edit list when a range is asked for)."""

    def get(self, request, accession):
        download, key = _download(request, accession)
        _audit(request, download, key, part="header", length=len(download.header))
        response = HttpResponse(download.header, content_type="application/octet-stream")
        response["ETag"] = make_etag("header", download.header)
        response["Cache-Control"] = "private, no-store"
        return response


class FileContent(BinaryAPIView):
    """The stored body alone (the segments covering `?start=&end=`, if given); `Range` works."""

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
            request=request, actor=selectors.actor_of(request), file=file,
            details={"part": "content", "plaintext_range": span, "http_range": request.META.get("HTTP_RANGE", ""), "bytes": hi - lo},
        )
        etag = make_etag("content", file.accession, file.stored_sha256, body_start, body_end)
        return stream_response(request, pieces=pieces, etag=etag, filename=f"{file.name}.c4gh.body")

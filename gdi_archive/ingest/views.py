"""Inbox API and the archive's public key: thin views over `services` and `keys`."""

from django.http import HttpResponse, UnreadablePostError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gdi_archive.common import queues
from gdi_archive.common.errors import NotFound, RequestTimeout, json_error
from gdi_archive.common.pagination import PAGE_PARAMETERS, paged_response
from gdi_archive.common.schema import errors
from gdi_archive.crypt4gh.keys import format_public_key
from gdi_archive.keyring.archive import current_public_key

from . import names, resumable, services
from .serializers import InboxEntryOut, OffsetMismatchOut, PartialUploadOut

INGEST_TASK = "gdi_archive.ingest.tasks.ingest_file"

UPLOAD_CHUNK = 4 * 1024 * 1024


def archive_key(request):
    """The Crypt4GH public key submitters encrypt to (no token needed)."""
    if request.method not in ("GET", "HEAD"):
        return json_error("MethodNotAllowed", "Only GET is allowed here.", 405, headers={"Allow": "GET, HEAD"})
    response = HttpResponse(format_public_key(current_public_key()), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="archive.pub"'
    return response


class CanSubmit(BasePermission):
    message = "Only data stewards and members of the 'submitters' group may upload files."

    def has_permission(self, request, view):
        return services.can_submit(request.user)


def _request_chunks(request):
    """The raw request body, read in chunks from the socket (never `request.body`).

    A client that goes quiet for longer than the server's idle timeout (gunicorn's
    GUNICORN_BODY_TIMEOUT) is refused with 408; the store then keeps nothing of the upload.
    """
    while True:
        try:
            chunk = request.read(UPLOAD_CHUNK)
        except (TimeoutError, ConnectionError, UnreadablePostError) as exc:
            raise RequestTimeout(
                "The upload stalled or the connection broke; nothing was kept. Please upload again."
            ) from exc
        if not chunk:
            return
        yield chunk


def _content_length(request) -> int | None:
    value = request.META.get("CONTENT_LENGTH")
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        return None


class InboxListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: InboxEntryOut(many=True), **errors(400, 401)}, parameters=PAGE_PARAMETERS)
    def get(self, request):
        """My uploads and how their ingestion is going."""
        waiting = queues.queue_of(INGEST_TASK) in queues.unconsumed()
        entries = services.inbox_entries(request.user)
        return paged_response(
            request,
            entries,
            ("id",),
            lambda rows: InboxEntryOut(rows, many=True, context={"ingest_unconsumed": waiting}).data,
        )


class InboxUploadView(APIView):
    """PUT /api/inbox/{name}: the body is the Crypt4GH file.

    Optional checksums of the *plaintext*: headers `X-Checksum-SHA256` / `X-Checksum-MD5`
    (or query parameters `sha256` / `md5`); the file fails ingestion if they do not match.
    201 for a new name, 202 when it replaces an upload that failed or is not ready yet; 409 for
    a name that is already archived; 411 without Content-Length; 413 over INBOX_MAX_BYTES;
    507 when the inbox has no room (nothing is kept).

    Resumable: the file may instead come in parts, each a PUT with `Content-Range: bytes
    START-END/TOTAL` (END inclusive) and the part's Content-Length. A part must start at the
    bytes already received, else 409 `UploadOffsetMismatch` with `bytes_received` and an
    `Upload-Offset` header. A middle part answers 202 `{"name", "status": "partial",
    "bytes_received", "bytes_total"}`; the last part assembles the file and answers like a
    whole upload (201/202, the inbox entry, ingestion queued). TOTAL is checked against the
    size limit and free space (413/507); a part whose length does not match its range is 400
    and not kept. GET (or HEAD) /api/inbox/{name} says where an unfinished upload stands
    (`Upload-Offset`, `Upload-Length`); 404 when there is none. Unfinished uploads are private
    to their submitter and are deleted after a day without a new part. A whole-file PUT
    replaces an unfinished upload of the same name.
    """

    permission_classes = [IsAuthenticated, CanSubmit]

    @extend_schema(
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={
            201: InboxEntryOut,
            **errors(400, 401, 403, 408, 409, 411, 413, 503, 507),
            202: PolymorphicProxySerializer(
                component_name="InboxUploadAccepted",
                serializers=[InboxEntryOut, PartialUploadOut],
                resource_type_field_name=None,
            ),
            409: OpenApiResponse(
                OffsetMismatchOut,
                description="The name is already archived, or (a part) the "
                "part does not start at the bytes received: see `bytes_received` and the "
                "Upload-Offset header.",
            ),
        },
        parameters=[
            OpenApiParameter(
                "Content-Range",
                str,
                OpenApiParameter.HEADER,
                description="For an upload in parts: "
                "`bytes START-END/TOTAL`, END inclusive; START must equal the bytes already received.",
            ),
            OpenApiParameter("X-Checksum-SHA256", str, OpenApiParameter.HEADER, description="SHA-256 of the plaintext"),
            OpenApiParameter("X-Checksum-MD5", str, OpenApiParameter.HEADER, description="MD5 of the plaintext"),
            OpenApiParameter("sha256", str, OpenApiParameter.QUERY, description="SHA-256 of the plaintext"),
            OpenApiParameter("md5", str, OpenApiParameter.QUERY, description="MD5 of the plaintext"),
        ],
    )
    def put(self, request, name: str):
        if request.headers.get("Content-Range"):
            return self._put_part(request, name)
        file, created = services.receive_upload(
            submitter=request.user,
            name=name,
            chunks=_request_chunks(request),
            size=_content_length(request),
            sha256=request.headers.get("X-Checksum-SHA256") or request.query_params.get("sha256"),
            md5=request.headers.get("X-Checksum-MD5") or request.query_params.get("md5"),
            request=request,
            verify=True,
        )
        file.refresh_from_db()
        return Response(
            InboxEntryOut(file).data, status=status.HTTP_201_CREATED if created else status.HTTP_202_ACCEPTED
        )

    def _put_part(self, request, name: str):
        partial, file, created = resumable.receive_part(  # OffsetMismatch answers 409 with Upload-Offset
            submitter=request.user,
            name=name,
            chunks=_request_chunks(request),
            size=_content_length(request),
            content_range=request.headers["Content-Range"],
            sha256=request.headers.get("X-Checksum-SHA256") or request.query_params.get("sha256"),
            md5=request.headers.get("X-Checksum-MD5") or request.query_params.get("md5"),
            request=request,
        )
        if partial is not None:
            return Response(
                PartialUploadOut(partial.as_dict()).data,
                status=status.HTTP_202_ACCEPTED,
                headers={"Upload-Offset": str(partial.received)},
            )
        file.refresh_from_db()
        return Response(
            InboxEntryOut(file).data, status=status.HTTP_201_CREATED if created else status.HTTP_202_ACCEPTED
        )

    @extend_schema(
        summary="Where an unfinished upload in parts stands (also HEAD)",
        responses={
            200: OpenApiResponse(PartialUploadOut, description="Headers Upload-Offset and Upload-Length say the same."),
            **errors(401, 403, 404),
        },
    )
    def get(self, request, name: str):
        """How many bytes of my unfinished upload of `name` the server has: resume from there."""
        partial = resumable.find(submitter=request.user, name=name) if not names.check_inbox_name(name) else None
        if partial is None:
            raise NotFound(f"You have no unfinished upload called {name}.")
        return Response(
            PartialUploadOut(partial.as_dict()).data,
            headers={
                "Upload-Offset": str(partial.received),
                "Upload-Length": str(partial.total),
                "Cache-Control": "no-store",
            },
        )

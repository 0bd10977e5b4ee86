"""Inbox API and the archive's public key: thin views over `services` and `keys`."""

from django.http import HttpResponse, JsonResponse, UnreadablePostError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gdi_archive.common.errors import ArchiveError
from gdi_archive.crypt4gh.keys import format_public_key

from . import services
from .keys import current_public_key
from .serializers import InboxEntryOut

UPLOAD_CHUNK = 4 * 1024 * 1024


def archive_key(request):
    """The Crypt4GH public key submitters encrypt to (no token needed)."""
    if request.method not in ("GET", "HEAD"):
        return JsonResponse({"error": "MethodNotAllowed", "detail": "Only GET is allowed here."}, status=405,
                            headers={"Allow": "GET, HEAD"})
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
            raise ArchiveError("The upload stalled or the connection broke; nothing was kept. Please upload again.",
                               code="RequestTimeout", status_code=408) from exc
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

    @extend_schema(responses=InboxEntryOut(many=True))
    def get(self, request):
        """My uploads and how their ingestion is going."""
        return Response(InboxEntryOut(services.inbox_entries(request.user), many=True).data)


class InboxUploadView(APIView):
    """PUT /api/inbox/{name}: the body is the Crypt4GH file.

    Optional checksums of the *plaintext*: headers `X-Checksum-SHA256` / `X-Checksum-MD5`
    (or query parameters `sha256` / `md5`); the file fails ingestion if they do not match.
    201 for a new name, 202 when it replaces an upload that failed or is not ready yet; 409 for
    a name that is already archived; 411 without Content-Length; 413 over INBOX_MAX_BYTES;
    507 when the inbox has no room (nothing is kept).
    """

    permission_classes = [IsAuthenticated, CanSubmit]

    @extend_schema(
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={201: InboxEntryOut, 202: InboxEntryOut},
        parameters=[
            OpenApiParameter("X-Checksum-SHA256", str, OpenApiParameter.HEADER, description="SHA-256 of the plaintext"),
            OpenApiParameter("X-Checksum-MD5", str, OpenApiParameter.HEADER, description="MD5 of the plaintext"),
            OpenApiParameter("sha256", str, OpenApiParameter.QUERY, description="SHA-256 of the plaintext"),
            OpenApiParameter("md5", str, OpenApiParameter.QUERY, description="MD5 of the plaintext"),
        ],
    )
    def put(self, request, name: str):
        file, created = services.receive_upload(
            submitter=request.user,
            name=name,
            chunks=_request_chunks(request),
            size=_content_length(request),
            sha256=request.headers.get("X-Checksum-SHA256") or request.query_params.get("sha256"),
            md5=request.headers.get("X-Checksum-MD5") or request.query_params.get("md5"),
            request=request,
        )
        file.refresh_from_db()
        return Response(InboxEntryOut(file).data, status=status.HTTP_201_CREATED if created else status.HTTP_202_ACCEPTED)

"""Inbox API and the archive's public key: thin views over `services` and `keys`."""

from django.http import HttpResponse
from django.views.decorators.http import require_safe
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gdi_archive.crypt4gh.keys import format_public_key

from . import services
from .keys import current_public_key
from .serializers import InboxEntryOut

UPLOAD_CHUNK = 4 * 1024 * 1024


@require_safe
def archive_key(request):
    """The Crypt4GH public key submitters encrypt to (no token needed)."""
    response = HttpResponse(format_public_key(current_public_key()), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="archive.pub"'
    return response


class CanSubmit(BasePermission):
    message = "Only data stewards and members of the 'submitters' group may upload files."

    def has_permission(self, request, view):
        return services.can_submit(request.user)


def _request_chunks(request):
    """The raw request body, read in chunks from the socket (never `request.body`)."""
    while chunk := request.read(UPLOAD_CHUNK):
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

    def get(self, request):
        """My uploads and how their ingestion is going."""
        return Response(InboxEntryOut(services.inbox_entries(request.user), many=True).data)


class InboxUploadView(APIView):
    """PUT /api/inbox/{name}: the body is the Crypt4GH file.

    Optional checksums of the *plaintext*: headers `X-Checksum-SHA256` / `X-Checksum-MD5`
    (or query parameters `sha256` / `md5`); the file fails ingestion if they do not match.
    """

    permission_classes = [IsAuthenticated, CanSubmit]

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
        return Response(InboxEntryOut(file).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

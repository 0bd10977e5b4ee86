"""GA4GH DRS 1.4: objects, access URLs and service-info for the files a token may read.

An object is a file's plaintext (its size and sha-256); its bytes are delivered as a Crypt4GH
stream for the caller's key through a short-lived signed URL (`access_id` "c4gh").
"""

from django.conf import settings
from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from gdi_archive.common.errors import ArchiveError
from gdi_archive.common.views import service_info_document

from . import links, schema, selectors, services
from .blocks import STREAM, block_url
from .keys import client_key

C4GH_ACCESS = "c4gh"
HTSGET_TYPES = {"BAM": "reads", "CRAM": "reads", "VCF": "variants", "BCF": "variants"}


def drs_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"msg": message, "status_code": status}, status=status)


def _host() -> str:
    return settings.BASE_URL.split("://", 1)[-1].rstrip("/")


def _iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


class DrsView(APIView):
    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            response = drs_error("A valid bearer token is required.", 401)
            response["WWW-Authenticate"] = 'Bearer realm="gdi-archive"'
            return response
        if isinstance(exc, ArchiveError):
            return drs_error(exc.detail, exc.status_code)
        if isinstance(exc, exceptions.APIException):
            return drs_error(str(exc.detail), exc.status_code)
        return super().handle_exception(exc)


def drs_object(file) -> dict:
    methods = [{"type": "https", "access_id": C4GH_ACCESS}]
    if file.format in HTSGET_TYPES:
        methods.append(
            {
                "type": "htsget",
                "access_url": {"url": f"{settings.BASE_URL}/htsget/{HTSGET_TYPES[file.format]}/{file.accession}"},
            }
        )
    checksums = [{"checksum": file.sha256, "type": "sha-256"}]
    if file.md5:
        checksums.append({"checksum": file.md5, "type": "md5"})
    return {
        "id": file.accession,
        "name": file.name,
        "self_uri": f"drs://{_host()}/{file.accession}",
        "size": file.plaintext_size,
        "created_time": _iso(file.created_at),
        "updated_time": _iso(file.updated_at),
        "checksums": checksums,
        "mime_type": "application/octet-stream",
        "description": "Delivered as a Crypt4GH stream encrypted for your public key; decrypt it with the crypt4gh tool.",
        "access_methods": methods,
    }


class DrsObject(DrsView):
    def get_permissions(self):
        if self.request.method == "OPTIONS":
            return [AllowAny()]
        return super().get_permissions()

    @schema.drs_object
    def get(self, request, object_id):
        file = selectors.get_file_for_download(request=request, accession=object_id)
        return JsonResponse(drs_object(file))

    def options(self, request, object_id):
        """Which authorisations the object accepts (no token needed)."""
        return JsonResponse(
            {"drs_object_id": object_id, "supported_types": ["BearerAuth"], "bearer_auth_issuers": [settings.BASE_URL]}
        )


class DrsAccess(DrsView):
    @schema.drs_access
    def get(self, request, object_id, access_id):
        file = selectors.get_file_for_download(request=request, accession=object_id)
        if access_id != C4GH_ACCESS:
            return drs_error(f"Unknown access id {access_id!r}; use {C4GH_ACCESS!r}.", 404)
        key = client_key(request)
        download = services.plan_download(file=file, key=key)
        header_id, _ = services.kept_header(file=file, key=key)
        services.record_download(
            request=request,
            actor=selectors.actor_of(request),
            file=file,
            action="download.ticket",
            details={"protocol": "drs", "bytes": download.length, "key_fingerprint": key.fingerprint},
        )
        url = block_url(
            file, STREAM, download.body_start, download.body_end, bound=links.bind(request, file), header_id=header_id
        )
        return JsonResponse({"url": url, "headers": []})


class DrsServiceInfo(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @schema.drs_service_info
    def get(self, request):
        return JsonResponse(
            service_info_document(artifact="drs", version="1.4.0", suffix=".drs", extra={"maxBulkRequestLength": 1})
        )

"""htsget 1.3 ticket endpoints (`/htsget/reads/{id}`, `/htsget/variants/{id}`) and service-info."""

import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from gdi_archive import storage
from gdi_archive.common import jsonbytes
from gdi_archive.common.errors import ArchiveError
from gdi_archive.common.views import service_info_document
from gdi_archive.crypt4gh.errors import Crypt4GHError

from .. import links, schema, selectors, services
from ..keys import client_key
from . import params, tickets
from .params import READS, VARIANTS, HtsgetError

log = logging.getLogger(__name__)
TICKET_TYPE = "application/vnd.ga4gh.htsget.v1.3.0+json; charset=utf-8"
_STATUS_ERRORS = {
    400: "InvalidInput",
    401: "InvalidAuthentication",
    403: "PermissionDenied",
    404: "NotFound",
    413: "PayloadTooLarge",
    416: "InvalidRange",
    503: "ServiceUnavailable",
}


def htsget_error(error: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"htsget": {"error": error, "message": message}}, status=status)


def _cors(request, response):
    origin = request.META.get("HTTP_ORIGIN")
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response


class HtsgetView(APIView):
    datatype = READS

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    def get_permissions(self):
        if self.request.method == "OPTIONS":
            return [AllowAny()]  # CORS preflight carries no credentials
        return super().get_permissions()

    def options(self, request, *args, **kwargs):
        """CORS preflight (htsget B.1): echo the origin and the requested headers."""
        response = JsonResponse({}, status=200)
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = request.META.get(
            "HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "Authorization"
        )
        response["Access-Control-Max-Age"] = str(30 * 24 * 3600)
        return response

    def handle_exception(self, exc):
        if isinstance(exc, HtsgetError):
            return htsget_error(exc.error, exc.message, exc.status)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            response = htsget_error("InvalidAuthentication", "A valid bearer token is required.", 401)
            response["WWW-Authenticate"] = 'Bearer realm="gdi-archive"'
            return response
        if isinstance(exc, ArchiveError):
            status = 400 if exc.status_code == 416 else exc.status_code
            return htsget_error(_STATUS_ERRORS.get(exc.status_code, "InvalidInput"), exc.detail, status)
        if isinstance(exc, exceptions.APIException):
            return htsget_error(_STATUS_ERRORS.get(exc.status_code, "InvalidInput"), str(exc.detail), exc.status_code)
        if isinstance(exc, storage.StorageUnavailable):
            return htsget_error("ServiceUnavailable", "The archive storage is not reachable; please retry.", 503)
        if isinstance(exc, Crypt4GHError):
            log.error("htsget: %s", exc)
            return htsget_error("InternalServerError", "The file cannot be read right now.", 500)
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        return _cors(request, super().finalize_response(request, response, *args, **kwargs))

    def _ticket(self, request, accession: str, query: params.HtsgetQuery):
        file = selectors.get_file_for_download(request=request, accession=accession, with_index=True)
        if file.format not in params.FORMATS[self.datatype]:
            raise HtsgetError("NotFound", f"There is no {self.datatype} object {accession}.", 404)
        if query.format and query.format != file.format:
            raise HtsgetError("UnsupportedFormat", f"{accession} is available as {file.format} only.")
        key = None
        if query.encrypted:
            key = client_key(request, body_value=None)
        elif not settings.PLAINTEXT_DOWNLOADS:
            raise HtsgetError(
                "InvalidInput",
                "This archive serves encrypted data only: add encryptionScheme=C4GH and your Crypt4GH public key "
                "(X-C4GH-Public-Key or Htsget-Context-Public-Key header).",
            )
        parts = tickets.planned_parts(file, query)
        bound = links.bind(request, file)
        if query.encrypted:
            urls, planned = tickets.encrypted_ticket(file, parts, key, bound=bound)
        else:
            urls, planned = tickets.plaintext_ticket(file, parts, bound=bound)
        regions = [{"referenceName": r.reference, "start": r.start, "end": r.end} for r in query.regions or []]
        services.record_download(
            request=request,
            actor=selectors.actor_of(request),
            file=file,
            action="download.ticket",
            details={
                "protocol": "htsget",
                "format": file.format,
                "class": "header" if query.header_only else "",
                "regions": regions,
                "encrypted": query.encrypted,
                "bytes": planned,
                "key_fingerprint": key.fingerprint if key else "",
            },
        )
        # orjson (common.jsonbytes): the standard encoder's pass over the base64 `data:` URLs
        # was a fifth of a region ticket's CPU.
        response = HttpResponse(jsonbytes.dumps({"htsget": {"format": file.format, "urls": urls}}))
        response["Content-Type"] = TICKET_TYPE
        response["Cache-Control"] = "private, no-store"
        return response

    @schema.htsget_get
    def get(self, request, accession):
        return self._ticket(request, accession, params.from_get(self.datatype, request.query_params))

    @schema.htsget_post
    def post(self, request, accession):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > params.MAX_BODY:
            raise HtsgetError("PayloadTooLarge", f"The request body is larger than {params.MAX_BODY} bytes.", 413)
        return self._ticket(request, accession, params.from_post(self.datatype, request.body, request.query_params))


class ReadsView(HtsgetView):
    datatype = READS


class VariantsView(HtsgetView):
    datatype = VARIANTS


class ServiceInfoView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    datatype = READS

    @schema.htsget_service_info
    def get(self, request):
        document = service_info_document(
            artifact="htsget",
            version="1.3.0",
            suffix=f".{self.datatype}",
            extra={
                "htsget": {
                    "datatype": self.datatype,
                    "formats": list(params.FORMATS[self.datatype]),
                    "fieldsParameterEffective": False,
                    "tagsParametersEffective": False,
                }
            },
        )
        return _cors(request, JsonResponse(document))


class ReadsServiceInfo(ServiceInfoView):
    datatype = READS


class VariantsServiceInfo(ServiceInfoView):
    datatype = VARIANTS

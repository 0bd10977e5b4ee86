"""One error shape for the whole API: {"error": "<Code>", "detail": "<for a person>"}.

Services raise the exceptions below; the DRF exception handler turns them (and DRF's own)
into that body, and plain Django views answer with `json_error()`, so no view builds an error
body by hand.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response


class ArchiveError(Exception):
    """Base for refusals a service makes on purpose; carries the HTTP status and code."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "BadRequest"
    extra: dict = {}  # more fields for the body (e.g. where an upload stands)
    headers: dict = {}

    def __init__(self, detail: str, *, code: str | None = None, status_code: int | None = None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code

    def body(self) -> dict:
        return {"error": self.code, "detail": self.detail, **self.extra}


class InvalidInput(ArchiveError):
    code = "InvalidInput"


class DocumentsMissing(ArchiveError):
    """A request submitted without a document its DAC requires; `missing` lists the kinds."""

    code = "DocumentsMissing"

    def __init__(self, detail: str, *, missing: list[str]):
        super().__init__(detail)
        self.missing = list(missing)
        self.extra = {"missing": self.missing}


class NotFound(ArchiveError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "NotFound"


class Forbidden(ArchiveError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "Forbidden"


class Conflict(ArchiveError):
    """The object's state does not allow this (a decision on a request that is not submitted)."""

    status_code = status.HTTP_409_CONFLICT
    code = "Conflict"


class MetadataIncomplete(ArchiveError):
    """The dataset's public (FAIR Data Point) record fails the GDI metadata shapes: it cannot be
    released. `properties` names what is missing or wrong, in a steward's words."""

    code = "MetadataIncomplete"

    def __init__(self, detail: str, *, properties: list[str]):
        super().__init__(detail)
        self.properties = list(properties)
        self.extra = {"properties": self.properties}


class TooLarge(ArchiveError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "PayloadTooLarge"


class InsufficientStorage(ArchiveError):
    status_code = 507
    code = "InsufficientStorage"


class LengthRequired(ArchiveError):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    code = "LengthRequired"


class RequestTimeout(ArchiveError):
    status_code = status.HTTP_408_REQUEST_TIMEOUT
    code = "RequestTimeout"


class RangeNotSatisfiable(ArchiveError):
    status_code = status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE
    code = "RangeNotSatisfiable"


class ServiceUnavailable(ArchiveError):
    """A store or service we depend on is down; the client may try again later."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "ServiceUnavailable"


_DRF_CODES = {
    400: "InvalidInput",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    416: "RangeNotSatisfiable",
    429: "TooManyRequests",
}


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, (list, tuple)):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def error_response(
    code: str, detail: str, status_code: int, headers: dict | None = None, extra: dict | None = None
) -> Response:
    return Response({"error": code, "detail": detail, **(extra or {})}, status=status_code, headers=headers)


def json_error(
    code: str | ArchiveError, detail: str = "", status_code: int = 400, headers: dict | None = None
) -> JsonResponse:
    """The error body for plain Django views (outside DRF): from a code and detail, or from an ArchiveError."""
    if isinstance(code, ArchiveError):
        return JsonResponse(code.body(), status=code.status_code, headers={**code.headers, **(headers or {})})
    return JsonResponse({"error": code, "detail": detail}, status=status_code, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, ArchiveError):
        return Response(exc.body(), status=exc.status_code, headers=exc.headers or None)
    if isinstance(exc, Http404):
        return error_response("NotFound", "Not found.", 404)
    if isinstance(exc, DjangoPermissionDenied):
        return error_response("Forbidden", "You may not do this.", 403)
    if isinstance(exc, DjangoValidationError):
        return error_response("InvalidInput", _flatten(exc.messages), 400)
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            headers.setdefault("WWW-Authenticate", 'Bearer realm="gdi-archive"')
            return error_response("Unauthorized", _flatten(exc.detail), 401, headers)
        code = _DRF_CODES.get(exc.status_code, "Error")
        return error_response(code, _flatten(exc.detail), exc.status_code, headers)
    return None

"""OpenAPI pieces every app's views share: the `{"error", "detail"}` body and service-info."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

ERROR_MEANINGS = {
    400: "The request is not valid (see `detail`).",
    401: "No valid token or session.",
    403: "Signed in, but not allowed to do this.",
    404: "No such object, or not one you may see (the same answer, so accessions cannot be probed).",
    408: "The upload stalled or the connection broke; nothing was kept.",
    409: "The object's state does not allow this.",
    411: "The upload has no Content-Length.",
    413: "The body is too large.",
    416: "`start` is past the end of the file (a Range header past the end gets an empty 416 with Content-Range).",
    429: "Too many attempts; try again later.",
    503: "A store the archive needs is not reachable; retry later.",
    507: "The inbox has no room for this upload; nothing was kept.",
}


class ErrorOut(serializers.Serializer):
    """Every error outside htsget and DRS."""

    error = serializers.CharField(help_text="A code such as InvalidInput, NotFound, Conflict.")
    detail = serializers.CharField(help_text="What is wrong, for a person.")


def errors(*codes: int) -> dict:
    """`responses` entries for these HTTP statuses, all with the `{"error", "detail"}` body."""
    return {code: OpenApiResponse(ErrorOut, description=ERROR_MEANINGS[code]) for code in codes}


class ServiceTypeOut(serializers.Serializer):
    group = serializers.CharField()
    artifact = serializers.CharField()
    version = serializers.CharField()


class OrganizationOut(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.CharField()


class ServiceInfoOut(serializers.Serializer):
    """GA4GH service-info; htsget and DRS add fields of their own."""

    id = serializers.CharField()
    name = serializers.CharField()
    type = ServiceTypeOut()
    description = serializers.CharField()
    organization = OrganizationOut()
    version = serializers.CharField()
    environment = serializers.CharField()

"""OpenAPI description of the download, export, htsget and DRS endpoints (the views stay thin)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from gdi_archive.common.schema import ServiceInfoOut, errors

from .models import Export

KEY_HEADERS = [
    OpenApiParameter(
        name,
        str,
        OpenApiParameter.HEADER,
        description="Your Crypt4GH public key: base64 of the key file or of the raw 32 bytes. "
        "Without one, the key you registered on the web is used.",
    )
    for name in ("X-C4GH-Public-Key", "Client-Public-Key", "Htsget-Context-Public-Key")
]
OFFSETS = [
    OpenApiParameter("start", int, OpenApiParameter.QUERY, description="First plaintext byte (inclusive)."),
    OpenApiParameter(
        "end",
        int,
        OpenApiParameter.QUERY,
        description="Plaintext byte to stop before (exclusive); clamped to the size.",
    ),
]
RANGE = [OpenApiParameter("Range", str, OpenApiParameter.HEADER, description="bytes=a-b, to resume (with If-Range).")]


def binary(description: str, *codes: int) -> dict:
    """Byte answers: `responses` entries with an octet-stream body."""
    return {
        (code, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description=description)
        for code in codes
    }


file_stream = extend_schema(
    summary="A complete Crypt4GH stream for your key (new header + body); ?start=&end= for a part",
    parameters=KEY_HEADERS + OFFSETS + RANGE,
    responses={
        **binary("The Crypt4GH stream (206: the part asked for with Range).", 200, 206),
        **errors(400, 401, 404, 416, 503),
    },
)
file_header = extend_schema(
    summary="The Crypt4GH header re-encrypted for your key (with an edit list for ?start=&end=)",
    parameters=KEY_HEADERS + OFFSETS,
    responses={**binary("The header packets.", 200), **errors(400, 401, 404, 416, 503)},
)
file_content = extend_schema(
    summary="The stored Crypt4GH body alone; Range and a stable ETag for resuming",
    parameters=OFFSETS + RANGE,
    responses={
        **binary("The body segments (206: the part asked for with Range).", 200, 206),
        **errors(400, 401, 404, 416, 503),
    },
)


# --- exports --------------------------------------------------------------------------------------


class ExportRequest(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="File accessions; or give `dataset`."
    )
    dataset = serializers.CharField(required=False, help_text="A dataset accession; or give `files`.")
    public_key = serializers.CharField(required=False, help_text="Your Crypt4GH public key, if not in a header.")


class ExportCreatedOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Export.Status.choices)


class ExportLinkOut(serializers.Serializer):
    file = serializers.CharField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField(help_text="Valid until `expires_at`.")


class ExportOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Export.Status.choices)
    bytes_done = serializers.IntegerField()
    bytes_total = serializers.IntegerField()
    progress = serializers.FloatField(help_text="bytes_done / bytes_total, 0 to 1.")
    files = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    links = ExportLinkOut(many=True, help_text="When done: one signed link per file you may still read.")


export_create = extend_schema(
    summary="Export files (or a dataset) re-encrypted for your key into the outbox, in the background",
    request=ExportRequest,
    parameters=KEY_HEADERS,
    responses={202: ExportCreatedOut, **errors(400, 401, 404)},
)
export_detail = extend_schema(
    summary="An export's progress and, when done, its links", responses={200: ExportOut, **errors(401, 404)}
)


# --- htsget ---------------------------------------------------------------------------------------


class HtsgetErrorDetail(serializers.Serializer):
    error = serializers.CharField(
        help_text="InvalidAuthentication, PermissionDenied, NotFound, InvalidInput, InvalidRange, "
        "UnsupportedFormat, PayloadTooLarge or ServiceUnavailable."
    )
    message = serializers.CharField()


class HtsgetErrorOut(serializers.Serializer):
    htsget = HtsgetErrorDetail()


class HtsgetUrlOut(serializers.Serializer):
    url = serializers.CharField(help_text="A data: URL or a short-lived signed URL.")
    headers = serializers.DictField(child=serializers.CharField(), required=False)
    # `class` is a Python keyword, so the field is added below.


HtsgetUrlOut._declared_fields["class"] = serializers.ChoiceField(choices=["header", "body"], required=False)


class HtsgetTicketBody(serializers.Serializer):
    format = serializers.CharField()
    urls = HtsgetUrlOut(many=True)


class HtsgetTicketOut(serializers.Serializer):
    htsget = HtsgetTicketBody()


class HtsgetRegion(serializers.Serializer):
    referenceName = serializers.CharField()  # noqa: N815 (the htsget name)
    start = serializers.IntegerField(required=False, min_value=0)
    end = serializers.IntegerField(required=False, min_value=0)


class HtsgetQueryBody(serializers.Serializer):
    format = serializers.CharField(required=False)
    encryptionScheme = serializers.CharField(required=False, help_text="C4GH")  # noqa: N815
    fields = serializers.ListField(child=serializers.CharField(), required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    notags = serializers.ListField(child=serializers.CharField(), required=False)
    regions = HtsgetRegion(many=True, required=False)


HtsgetQueryBody._declared_fields["class"] = serializers.ChoiceField(choices=["header"], required=False)


def htsget_errors(*codes: int) -> dict:
    return {code: OpenApiResponse(HtsgetErrorOut, description="htsget error body.") for code in codes}


HTSGET_QUERY = [
    OpenApiParameter(name, kind, OpenApiParameter.QUERY)
    for name, kind in (
        ("format", str),
        ("class", str),
        ("referenceName", str),
        ("start", int),
        ("end", int),
        ("fields", str),
        ("tags", str),
        ("notags", str),
        ("encryptionScheme", str),
    )
]
TICKET = OpenApiResponse(HtsgetTicketOut, description="An htsget ticket (application/vnd.ga4gh.htsget.v1.3.0+json).")
htsget_get = extend_schema(
    summary="An htsget ticket for a region of the file",
    parameters=KEY_HEADERS + HTSGET_QUERY,
    responses={200: TICKET, **htsget_errors(400, 401, 404, 500, 503)},
)
htsget_post = extend_schema(
    summary="An htsget ticket for several regions (JSON body)",
    request=HtsgetQueryBody,
    parameters=KEY_HEADERS + [OpenApiParameter("encryptionScheme", str, OpenApiParameter.QUERY)],
    responses={200: TICKET, **htsget_errors(400, 401, 404, 413, 500, 503)},
)


class HtsgetServiceDetail(serializers.Serializer):
    datatype = serializers.CharField()
    formats = serializers.ListField(child=serializers.CharField())
    fieldsParameterEffective = serializers.BooleanField()  # noqa: N815
    tagsParametersEffective = serializers.BooleanField()  # noqa: N815


class HtsgetServiceInfoOut(ServiceInfoOut):
    htsget = HtsgetServiceDetail()


htsget_service_info = extend_schema(summary="htsget service-info", responses={200: HtsgetServiceInfoOut})


# --- DRS ------------------------------------------------------------------------------------------


class DrsErrorOut(serializers.Serializer):
    msg = serializers.CharField()
    status_code = serializers.IntegerField()


class DrsChecksum(serializers.Serializer):
    checksum = serializers.CharField()
    type = serializers.CharField()


class DrsAccessUrl(serializers.Serializer):
    url = serializers.CharField()


class DrsAccessMethod(serializers.Serializer):
    type = serializers.CharField()
    access_id = serializers.CharField(required=False)
    access_url = DrsAccessUrl(required=False)


class DrsObjectOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    self_uri = serializers.CharField()
    size = serializers.IntegerField()
    created_time = serializers.DateTimeField()
    updated_time = serializers.DateTimeField()
    checksums = DrsChecksum(many=True)
    mime_type = serializers.CharField()
    description = serializers.CharField()
    access_methods = DrsAccessMethod(many=True)


class DrsAccessOut(serializers.Serializer):
    url = serializers.CharField(help_text="A short-lived signed URL giving the Crypt4GH stream for your key.")
    headers = serializers.ListField(child=serializers.CharField())


class DrsServiceInfoOut(ServiceInfoOut):
    maxBulkRequestLength = serializers.IntegerField()  # noqa: N815


def drs_errors(*codes: int) -> dict:
    return {code: OpenApiResponse(DrsErrorOut, description="DRS error body.") for code in codes}


drs_object = extend_schema(
    summary="A DRS object (a file's plaintext size and checksums)",
    responses={200: DrsObjectOut, **drs_errors(401, 404)},
)
drs_access = extend_schema(
    summary="A short-lived URL for the object's Crypt4GH stream (access_id c4gh)",
    parameters=KEY_HEADERS,
    responses={200: DrsAccessOut, **drs_errors(400, 401, 404, 503)},
)
drs_service_info = extend_schema(summary="DRS service-info", responses={200: DrsServiceInfoOut})

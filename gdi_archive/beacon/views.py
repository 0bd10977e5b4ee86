"""`/beacon/v2/...`: thin plain views; every failure is a Beacon error body with the right status."""

import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from gdi_archive.catalogue.models import Dataset
from gdi_archive.catalogue.views import IsSteward
from gdi_archive.common import jsonbytes
from gdi_archive.common.errors import ArchiveError, NotFound
from gdi_archive.common.schema import errors

from . import individuals, selectors, services
from .query import BadRequest, parse_body, parse_get

log = logging.getLogger(__name__)
ENTRY_TYPES = ("g_variants", "individuals")


class BeaconView:
    """A plain Django view (no DRF dispatch, parsing or rendering: the Beacon's answers are plain
    dicts), authenticated exactly as the API is (DRF's authentication classes, run once at the
    start: a bad token is a 401 before anything else). Anyone may ask; how much they learn is
    decided per dataset in `services`. Every failure is a Beacon error body with its status."""

    entry_type: str | None = None
    methods: tuple[str, ...] = ("GET",)

    @classmethod
    def as_view(cls):
        endpoint = cls()

        def view(request, **kwargs):
            return endpoint.dispatch(request, **kwargs)

        view.view_class = cls
        return csrf_exempt(view)  # session requests are checked for CSRF by SessionAuthentication

    def dispatch(self, request, **kwargs) -> HttpResponse:
        try:
            request = authenticated(request)
            method = "GET" if request.method == "HEAD" else request.method
            if method == "OPTIONS":
                response = HttpResponse(status=204)
            elif method not in self.methods:
                raise BadRequest("This method is not allowed here.", status=405)
            else:
                response = json_response(getattr(self, method.lower())(request, **kwargs))
        except Exception as exc:  # noqa: BLE001 (every failure is answered as a Beacon error)
            response = self.error_response(exc)
        if response.status_code == 405 or request.method == "OPTIONS":
            response["Allow"] = ", ".join((*self.methods, "HEAD", "OPTIONS"))
        return response

    def error_response(self, exc) -> HttpResponse:
        status, message, retry_after = 500, "The Beacon could not answer this request.", None
        if isinstance(exc, BadRequest):
            status, message, retry_after = exc.status, exc.message, exc.retry_after
        elif isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
            status, message = 401, "The token is not valid, has expired or was revoked."
        elif isinstance(exc, exceptions.APIException):  # e.g. SessionAuthentication's CSRF refusal (403)
            status, message = exc.status_code, str(exc.detail)
        elif isinstance(exc, ArchiveError):
            status, message = exc.status_code, exc.detail
        elif isinstance(exc, RequestDataTooBig):
            status, message = 413, "The request body is too large."
        else:
            log.exception("beacon request failed")
        response = json_response(services.error_body(status, message, entry_type=self.entry_type), status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="gdi-archive"'
        if status == 429:
            response["Retry-After"] = str(retry_after or services.BUDGET_WINDOW)
        return response

    def query(self, request):
        if request.method == "POST":
            return parse_body(json_body(request), max_page=settings.BEACON_MAX_PAGE)
        return parse_get(request.GET, max_page=settings.BEACON_MAX_PAGE)


def authenticated(request) -> Request:
    """The request with `user` and `auth` set by the API's authentication classes (a passport
    or a broker's token; a session, CSRF-checked on unsafe methods), as every API view has them."""
    wrapped = Request(request, authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES])
    wrapped.user  # noqa: B018 (authenticates now)
    return wrapped


def json_body(request) -> object:
    """The POSTed JSON (an empty body is an empty request), read as DRF's JSONParser would."""
    raw = request.body
    if not raw:
        return {}
    if (request.content_type or "").split(";", 1)[0].strip().lower() != "application/json":
        raise BadRequest("Send the Beacon request as application/json.", status=415)
    try:
        return json.loads(raw)
    except ValueError:
        raise BadRequest("The request body is not valid JSON.") from None


def json_response(body: dict, status: int = 200) -> HttpResponse:
    """The body as compact UTF-8 JSON (`common.jsonbytes`): orjson, a fifth of the standard
    encoder's CPU on a region's hundred variant documents, which come already written
    (`orjson.Fragment`, see `services.variant_json`); the standard encoder only for what orjson
    refuses (an integer beyond 64 bits in a steward's individual record: never in a variant
    answer, whose values are the database's strings and 64-bit integers)."""
    return HttpResponse(jsonbytes.dumps(body), status=status, content_type="application/json")


class EntryView(BeaconView):
    """`/g_variants`, `/individuals` and their `/datasets/{id}/...` forms."""

    methods = ("GET", "POST")

    def get(self, request, dataset_id=None):
        return services.answer(request, entry_type=self.entry_type, query=self.query(request), dataset_id=dataset_id)

    post = get


class GVariants(EntryView):
    entry_type = "g_variants"


class Individuals(EntryView):
    entry_type = "individuals"


class Datasets(BeaconView):
    entry_type = "datasets"
    methods = ("GET", "POST")

    def get(self, request, dataset_id=None):
        who = services.asker(request)
        if settings.BEACON_REQUIRE_PASSPORT and not who.authenticated:
            raise BadRequest(
                "This Beacon answers only requests with a valid passport (Authorization: Bearer ...).", status=401
            )
        return services.datasets_answer(request, query=self.query(request), dataset_id=dataset_id)

    post = get


def _informational(request, response: dict) -> dict:
    return {
        "meta": {"beaconId": settings.BEACON_ID, "apiVersion": services.API_VERSION, "returnedSchemas": []},
        "response": response,
    }


def _organisation() -> dict:
    return {
        "id": settings.BEACON_ID.rsplit(".", 1)[0] or settings.BEACON_ID,
        "name": settings.BEACON_ORGANISATION,
        "welcomeUrl": settings.BASE_URL + "/",
    }


def _root(request) -> str:
    return settings.BASE_URL.rstrip("/") + "/beacon/v2"


def entry_types() -> dict:
    base = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/models/json/beacon-v2-default-model"
    types = {
        "dataset": {
            "id": "dataset",
            "name": "Dataset",
            "partOfSpecification": "Beacon v2.0.0",
            "ontologyTermForThisType": {"id": "NCIT:C47824", "label": "Data set"},
            "defaultSchema": {
                "id": "beacon-dataset-v2.0.0",
                "name": "Default schema for datasets",
                "referenceToSchemaDefinition": f"{base}/datasets/defaultSchema.json",
                "schemaVersion": "v2.0.0",
            },
            "nonFilteredQueriesAllowed": True,
        },
        "genomicVariation": {
            "id": "genomicVariation",
            "name": "Genomic variation",
            "partOfSpecification": "Beacon v2.0.0",
            "ontologyTermForThisType": {"id": "ENSGLOSSARY:0000092", "label": "Variant"},
            "defaultSchema": {
                "id": "beacon-g_variant-v2.0.0",
                "name": "Default schema for a genomic variation",
                "referenceToSchemaDefinition": f"{base}/genomicVariations/defaultSchema.json",
                "schemaVersion": "v2.0.0",
            },
            "nonFilteredQueriesAllowed": False,
        },
    }
    if settings.BEACON_INDIVIDUALS:
        types["individual"] = {
            "id": "individual",
            "name": "Individual",
            "partOfSpecification": "Beacon v2.0.0",
            "ontologyTermForThisType": {"id": "NCIT:C25190", "label": "Person"},
            "defaultSchema": {
                "id": "beacon-individual-v2.0.0",
                "name": "Default schema for an individual",
                "referenceToSchemaDefinition": f"{base}/individuals/defaultSchema.json",
                "schemaVersion": "v2.0.0",
            },
            "nonFilteredQueriesAllowed": True,
        }
    return types


class Info(BeaconView):
    def get(self, request):
        return _informational(
            request,
            {
                "id": settings.BEACON_ID,
                "name": settings.BEACON_NAME,
                "apiVersion": services.API_VERSION,
                "environment": "prod" if settings.PRODUCTION else "dev",
                "organization": _organisation(),
                "description": "Counts and allele frequencies from the archive's own released datasets, "
                "under the archive's access rules.",
                "version": services.API_VERSION,
                "welcomeUrl": settings.BASE_URL + "/",
            },
        )


class ServiceInfo(BeaconView):
    def get(self, request):
        return {
            "id": settings.BEACON_ID,
            "name": settings.BEACON_NAME,
            "type": {"group": "org.ga4gh", "artifact": "beacon", "version": services.API_VERSION},
            "organization": {"name": settings.BEACON_ORGANISATION, "url": settings.BASE_URL + "/"},
            "version": services.API_VERSION,
            "environment": "prod" if settings.PRODUCTION else "dev",
            "description": "Beacon v2 of a gdi-archive node.",
        }


class Configuration(BeaconView):
    def get(self, request):
        return _informational(
            request,
            {
                "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/configuration/beaconConfigurationSchema.json",
                "maturityAttributes": {"productionStatus": "PROD" if settings.PRODUCTION else "DEV"},
                "securityAttributes": {
                    "defaultGranularity": "boolean",
                    "securityLevels": ["PUBLIC", "REGISTERED", "CONTROLLED"],
                },
                "entryTypes": entry_types(),
            },
        )


class Map(BeaconView):
    def get(self, request):
        root = _root(request)
        sets = {
            "dataset": {
                "entryType": "dataset",
                "rootUrl": f"{root}/datasets",
                "singleEntryUrl": f"{root}/datasets/{{id}}",
                "endpoints": {
                    "genomicVariation": {
                        "returnedEntryType": "genomicVariation",
                        "url": f"{root}/datasets/{{id}}/g_variants",
                    }
                },
            },
            "genomicVariation": {"entryType": "genomicVariation", "rootUrl": f"{root}/g_variants"},
        }
        if settings.BEACON_INDIVIDUALS:
            sets["dataset"]["endpoints"]["individual"] = {
                "returnedEntryType": "individual",
                "url": f"{root}/datasets/{{id}}/individuals",
            }
            sets["individual"] = {"entryType": "individual", "rootUrl": f"{root}/individuals"}
        return _informational(
            request,
            {
                "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/configuration/beaconMapSchema.json",
                "endpointSets": sets,
            },
        )


class EntryTypes(BeaconView):
    def get(self, request):
        return _informational(request, {"entryTypes": entry_types()})


class FilteringTerms(BeaconView):
    def get(self, request):
        who = services.asker(request)
        if settings.BEACON_REQUIRE_PASSPORT and not who.authenticated:
            raise BadRequest(
                "This Beacon answers only requests with a valid passport (Authorization: Bearer ...).", status=401
            )
        terms = selectors.filtering_terms() if settings.BEACON_INDIVIDUALS else []
        prefixes = sorted({t["id"].split(":", 1)[0] for t in terms})
        return _informational(request, {"filteringTerms": terms, "resources": [{"id": p} for p in prefixes]})


# --- the steward's upload: POST /api/datasets/{acc}/individuals ---------------------------------


class DatasetIndividualsUpload(APIView):
    """A JSON array of Beacon individuals, or JSON Lines (application/x-ndjson): replaces them all."""

    permission_classes = [IsAuthenticated, IsSteward]

    def get_parsers(self):
        return []  # the body is read raw: records are checked one by one, with their line numbers

    @extend_schema(
        operation_id="datasets_individuals_replace",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="`{dataset, individuals}`: how many were stored"),
            **errors(400, 401, 403, 404, 409),
        },
    )
    def post(self, request, accession):
        dataset = Dataset.objects.filter(accession=accession).first()
        if dataset is None:
            raise NotFound(f"No dataset {accession}.")
        if dataset.status == Dataset.Status.WITHDRAWN:
            raise ArchiveError("The dataset is withdrawn.", code="Conflict", status_code=409)
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        ndjson = content_type in (
            "application/x-ndjson",
            "application/jsonl",
            "application/json-lines",
            "application/jsonlines",
        )
        if not ndjson and content_type not in ("application/json", ""):
            raise ArchiveError(
                "Send application/json (an array) or application/x-ndjson (JSON Lines).",
                code="UnsupportedMediaType",
                status_code=415,
            )
        try:
            count = individuals.replace_individuals(
                dataset=dataset, body=request.body, ndjson=ndjson, actor=request.user, request=request
            )
        except individuals.InvalidIndividuals as exc:
            return Response(
                {"error": "InvalidInput", "detail": exc.detail, "records": [p.as_dict() for p in exc.problems[:1000]]},
                status=400,
            )
        return Response({"dataset": dataset.accession, "individuals": count}, status=200)

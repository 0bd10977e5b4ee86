"""The FAIR Data Point over HTTP: public RDF (Turtle by default, JSON-LD, RDF/XML), and a
validation report for stewards. Errors are the archive's JSON error body."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gdi_archive.catalogue.models import Dataset
from gdi_archive.catalogue.views import IsSteward
from gdi_archive.common.errors import NotFound, json_error
from gdi_archive.common.schema import errors

from . import graphs
from .validation import ShapesNotInstalled, shape_files, validate_graph

FORMATS = {  # ?format= value: (rdflib format, media type)
    "ttl": ("turtle", "text/turtle"),
    "jsonld": ("json-ld", "application/ld+json"),
    "rdf": ("xml", "application/rdf+xml"),
}
BY_MEDIA = {media: key for key, (_, media) in FORMATS.items()}


def _chosen(request) -> str | None:
    """The RDF syntax asked for: ?format= first, then Accept (by q), Turtle by default."""
    if request.GET.get("format"):
        return request.GET["format"] if request.GET["format"] in FORMATS else None
    accept = request.headers.get("Accept", "").strip()
    if not accept:
        return "ttl"
    offers = []
    for position, part in enumerate(accept.split(",")):
        media, *params = [piece.strip() for piece in part.split(";")]
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        offers.append((-quality, position, media.lower()))
    for quality, _, media in sorted(offers):
        if quality == 0:
            break
        if media in BY_MEDIA:
            return BY_MEDIA[media]
        if media in ("*/*", "text/*", "application/*"):
            return "ttl" if media != "application/*" else "jsonld"
    return None


LDP_TYPES = {  # LDP 1.0, 4.2.1.4 and 5.2.1.4: every resource says it is one; a container its kind
    False: ['<http://www.w3.org/ns/ldp#Resource>; rel="type"'],
    True: ['<http://www.w3.org/ns/ldp#DirectContainer>; rel="type"', '<http://www.w3.org/ns/ldp#Resource>; rel="type"'],
}


def rdf_response(request, graph, *, profile: str | None = None, container: bool = False) -> HttpResponse:
    chosen = _chosen(request)
    if chosen is None:
        if request.GET.get("format"):
            return json_error("InvalidInput", "format must be one of ttl, jsonld, rdf.", 400)
        return json_error(
            "NotAcceptable",
            "This record is available as text/turtle, application/ld+json and application/rdf+xml.",
            406,
        )
    syntax, media = FORMATS[chosen]
    response = HttpResponse(graph.serialize(format=syntax), content_type=f"{media}; charset=utf-8")
    response["Vary"] = "Accept"
    links = list(LDP_TYPES[container])
    if profile:
        links.append(f'<{graphs.profile_url(profile)}>; rel="profile"')
    response["Link"] = ", ".join(links)
    return response


def _container_of(graph, url: str):
    """The LDP container `url` described in a record's graph, alone (a harvester may ask for it)."""
    kept = graphs.new_graph()
    for triple in graph.triples((graphs.URIRef(url), None, None)):
        kept.add(triple)
    return kept


@require_safe
def fdp(request):
    return rdf_response(request, graphs.fdp_graph(), profile="dataservice")


@require_safe
def catalogs(request):
    """The catalogs container alone (the harvester follows ldp:contains from /fdp)."""
    return rdf_response(request, _container_of(graphs.fdp_graph(), f"{graphs.fdp_url()}/catalog/"), container=True)


@require_safe
def catalog_datasets(request, catalog_id):
    if catalog_id not in graphs.catalog_ids():
        return json_error("NotFound", f"No catalog {catalog_id}.", 404)
    container = f"{graphs.catalog_url(catalog_id)}/dataset/"
    return rdf_response(request, _container_of(graphs.catalog_graph(catalog_id), container), container=True)


@require_safe
def catalog(request, catalog_id):
    if catalog_id not in graphs.catalog_ids():
        return json_error("NotFound", f"No catalog {catalog_id}.", 404)
    return rdf_response(request, graphs.catalog_graph(catalog_id), profile="catalog")


def _published(accession: str) -> Dataset | JsonResponse:
    dataset = Dataset.objects.select_related("dac").filter(accession=accession).first()
    if dataset is None or dataset.status == Dataset.Status.DRAFT:
        return json_error("NotFound", f"No dataset {accession}.", 404)
    if dataset.status == Dataset.Status.WITHDRAWN:
        return json_error("Gone", f"{accession} has been withdrawn.", 410)
    return dataset


@require_safe
def dataset(request, accession):
    found = _published(accession)
    if isinstance(found, JsonResponse):
        return found
    return rdf_response(request, graphs.dataset_graph(found), profile="dataset")


@require_safe
def dataset_distributions(request, accession):
    found = _published(accession)
    if isinstance(found, JsonResponse):
        return found
    container = f"{graphs.dataset_url(accession)}/distribution/"
    return rdf_response(request, _container_of(graphs.dataset_graph(found), container), container=True)


@require_safe
def distribution(request, dist_id):
    accession = dist_id.rpartition("-")[0]
    found = _published(accession)
    if isinstance(found, JsonResponse):
        return found
    dist = graphs.find_distribution(dist_id)
    if dist is None:
        return json_error("NotFound", f"No distribution {dist_id}.", 404)
    return rdf_response(request, graphs.distribution_graph(dist), profile="distribution")


@require_safe
def dataservice(request, service):
    if service not in graphs.SERVICES:
        return json_error("NotFound", f"No data service {service}.", 404)
    return rdf_response(request, graphs.dataservice_graph(service), profile="dataservice")


@require_safe
def profile(request, kind):
    if kind not in graphs.PROFILES:
        return json_error("NotFound", f"No profile {kind}; there are {', '.join(graphs.PROFILES)}.", 404)
    return rdf_response(request, graphs.profile_graph(kind))


@require_safe
def profile_shacl(request, kind):
    if kind not in graphs.PROFILES:
        return json_error("NotFound", f"No profile {kind}.", 404)
    try:
        shapes = shape_files(graphs.PROFILES[kind][1])
    except ShapesNotInstalled as error:
        return json_error(error.code, error.detail, error.status_code)
    return rdf_response(request, shapes)


class ValidityOut(serializers.Serializer):
    accession = serializers.CharField()
    status = serializers.CharField()
    conforms = serializers.BooleanField()
    properties = serializers.ListField(child=serializers.CharField(), help_text="What fails, in a steward's words.")
    report = serializers.CharField(help_text="pyshacl's validation report.")


class DatasetValidity(APIView):
    """Whether a dataset's FDP record conforms to the GDI shapes: what release will check
    (503 ShapesNotInstalled where the operator has not installed the shapes)."""

    permission_classes = [IsAuthenticated, IsSteward]

    @extend_schema(
        responses={200: ValidityOut, **errors(401, 403, 404, 503)},
        tags=["fdp"],
        summary="Check a dataset's FAIR Data Point record against the GDI shapes (stewards)",
    )
    def get(self, request, accession):
        found = Dataset.objects.select_related("dac").filter(accession=accession).first()
        if found is None:
            raise NotFound(f"No dataset {accession}.")
        report = validate_graph(graphs.dataset_graph(found))
        return Response(
            {
                "accession": found.accession,
                "status": found.status,
                "conforms": report.conforms,
                "properties": report.problems,
                "report": report.text,
            }
        )

"""What every FAIR Data Point record is made of, before graphs.py assembles the records.

Where each record lives (its IRI, and the catalogs there are), the agents (publisher, creator,
contact point, HDAB) with the steward's metadata over the node's defaults, and the small RDF
helpers: a graph with the prefixes bound, the literals, an LDP container. Kept apart so that
graphs.py holds only the record builders.
"""

import re

from django.conf import settings
from django.utils import timezone
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

from gdi_archive.catalogue.models import DAC, Dataset

from .vocab import LDP, PREFIXES, VCARD

CATALOG_ID = "main"


# --- where things are -------------------------------------------------------------------------


def fdp_url() -> str:
    return f"{settings.BASE_URL}/fdp"


def catalog_url(catalog_id: str = CATALOG_ID) -> str:
    return f"{fdp_url()}/catalog/{catalog_id}"


def catalog_ids() -> list[str]:
    """The node's catalog, then (FDP_CATALOG_PER_DAC) one per DAC that has a released dataset,
    named by the DAC's accession."""
    ids = [CATALOG_ID]
    if settings.FDP_CATALOG_PER_DAC:
        ids += list(
            DAC.objects.filter(datasets__status=Dataset.Status.RELEASED)
            .order_by("accession")
            .values_list("accession", flat=True)
            .distinct()
        )
    return ids


def dataset_url(accession: str) -> str:
    return f"{fdp_url()}/dataset/{accession}"


def distribution_id(accession: str, fmt: str) -> str:
    return f"{accession}-{fmt.lower()}"


def distribution_url(accession: str, fmt: str) -> str:
    return f"{fdp_url()}/distribution/{distribution_id(accession, fmt)}"


def dataservice_url(service: str) -> str:
    return f"{fdp_url()}/dataservice/{service}"


def profile_url(kind: str) -> str:
    return f"{fdp_url()}/profile/{kind}"


def gdi_identifier(accession: str) -> str:
    """`GDI-{country}-{organisation}-{n}`, n the number in the accession (design.md 7)."""
    number = int(re.search(r"(\d+)$", accession).group(1))
    return f"GDI-{settings.GDI_COUNTRY}-{settings.GDI_ORGANISATION}-{number}"


def new_graph() -> Graph:
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


def text_literal(value: str) -> Literal:
    return Literal(value, lang="en")


def when_literal(value) -> Literal:
    return Literal((value or timezone.now()).isoformat(), datatype=XSD.dateTime)


def count_literal(value: int) -> Literal:
    return Literal(str(value), datatype=XSD.nonNegativeInteger)


def add_iris(graph: Graph, subject, predicate, values) -> None:
    for value in values or []:
        graph.add((subject, predicate, URIRef(value)))


def add_container(graph: Graph, url: str, title: str, member_of: URIRef, relation, members) -> None:
    container = URIRef(url)
    graph.add((container, RDF.type, LDP.DirectContainer))
    graph.add((container, DCTERMS.title, text_literal(title)))
    graph.add((container, LDP.membershipResource, member_of))
    graph.add((container, LDP.hasMemberRelation, relation))
    for member in members:
        graph.add((container, LDP.contains, URIRef(member)))


# --- agents and defaults -------------------------------------------------------------------------


def node_publisher() -> dict | None:
    if not settings.FDP_PUBLISHER_NAME:
        return None
    agent = {"name": settings.FDP_PUBLISHER_NAME}
    if settings.FDP_PUBLISHER_EMAIL:
        agent["email"] = settings.FDP_PUBLISHER_EMAIL
    if settings.FDP_PUBLISHER_ID:
        agent["identifier"] = settings.FDP_PUBLISHER_ID
    return agent


def effective_metadata(dataset: Dataset) -> dict:
    """The steward's metadata over the node's defaults (a steward's value always wins)."""
    given = dataset.metadata or {}
    publisher = given.get("publisher") or node_publisher()
    creator = given.get("creator") or publisher
    return {
        "publisher": publisher,
        "creator": [c for c in (creator if isinstance(creator, list) else [creator]) if c],
        "contact_point": given.get("contact_point") or publisher,
        "hdab": given.get("hdab"),
        "health_category": given.get("health_category") or settings.FDP_HEALTH_CATEGORY,
        "theme": given.get("theme") or settings.FDP_THEME,
        "applicable_legislation": given.get("applicable_legislation") or settings.FDP_APPLICABLE_LEGISLATION,
        "legal_basis": given.get("legal_basis") or [],
        "conforms_to": given.get("conforms_to") or [],
        "is_referenced_by": given.get("is_referenced_by") or [],
        "keywords": given.get("keywords") or [],
        "type": given.get("type"),
        "population_coverage": given.get("population_coverage") or "",
    }


def contact_kind(graph: Graph, agent: dict) -> BNode:
    """A vcard:Kind contact point; the shape requires its email (left out when unknown, so the
    validation says so)."""
    node = BNode()
    graph.add((node, RDF.type, VCARD.Kind))
    graph.add((node, VCARD.fn, Literal(agent["name"])))
    if agent.get("email"):
        graph.add((node, VCARD.hasEmail, URIRef(f"mailto:{agent['email']}")))
    if agent.get("identifier"):
        graph.add((node, VCARD.hasURL, URIRef(agent["identifier"])))
    return node


def agent_node(graph: Graph, agent: dict, *, with_contact: bool = False) -> BNode:
    node = BNode()
    graph.add((node, RDF.type, FOAF.Agent))
    graph.add((node, FOAF.name, Literal(agent["name"])))
    if agent.get("identifier"):
        graph.add((node, DCTERMS.identifier, Literal(agent["identifier"], datatype=XSD.anyURI)))
    if with_contact and agent.get("email"):
        graph.add((node, DCAT.contactPoint, contact_kind(graph, agent)))
    return node

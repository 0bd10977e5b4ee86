"""`manage.py bootstrap`'s demo dataset is in the FAIR Data Point, and every record conforms to
the GDI shapes (pyshacl, the shared copy of the shapes): the portal harvests it as it is."""

import io
import re

import pytest
from django.core.management import call_command
from django.test import Client
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, DCTERMS, RDF

from gdi_archive.catalogue.models import Dataset, File
from tests.fdp.conftest import conforms, shapes_folder

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

HEALTH = "http://healthdataportal.eu/ns/health#"
LDP = "http://www.w3.org/ns/ldp#"
MEDIA = {
    "ttl": ("text/turtle", "turtle"),
    "jsonld": ("application/ld+json", "json-ld"),
    "rdf": ("application/rdf+xml", "xml"),
}


def fetch(client: Client, url: str, fmt: str = "ttl", *, by_accept: bool = True) -> Graph:
    media, syntax = MEDIA[fmt]
    response = client.get(url, HTTP_ACCEPT=media) if by_accept else client.get(url, {"format": fmt})
    assert response.status_code == 200, (url, response.content[:300])
    assert response["Content-Type"].startswith(media)
    return Graph().parse(data=response.content, format=syntax, publicID=url)


def test_every_record_of_the_demo_conforms_and_reads_the_same_in_every_syntax(django_capture_on_commit_callbacks):
    shapes_folder()  # skip early, before the slow bootstrap, when the shapes are absent
    with django_capture_on_commit_callbacks(execute=True):  # file_ready is sent once ingest commits
        call_command("bootstrap", stdout=io.StringIO())
    demo = Dataset.objects.get(status=Dataset.Status.RELEASED)
    client = Client()

    # The harvester's walk: /fdp -> ldp:contains catalogs -> dcat:dataset -> dcat:distribution.
    root = fetch(client, "/fdp")
    catalogs = list(root.objects(None, URIRef(LDP + "contains")))
    assert len(catalogs) == 1
    records = {"http://testserver/fdp": root}
    catalog = fetch(client, str(catalogs[0]))
    assert (catalogs[0], RDF.type, DCAT.Catalog) in catalog
    records[str(catalogs[0])] = catalog
    datasets = list(catalog.objects(catalogs[0], DCAT.dataset))
    assert datasets == [URIRef(f"http://testserver/fdp/dataset/{demo.accession}")]
    dataset = fetch(client, str(datasets[0]))
    records[str(datasets[0])] = dataset
    subject = datasets[0]
    assert dataset.value(subject, DCTERMS.identifier) == Literal(
        f"GDI-EE-DEMO-{int(demo.accession[-11:])}", datatype=URIRef("http://www.w3.org/2001/XMLSchema#string")
    )
    assert (
        subject,
        DCTERMS.type,
        URIRef("https://publications.europa.eu/resource/authority/dataset-type/SYNTHETIC_DATA"),
    ) in dataset
    assert (
        subject,
        DCTERMS.accessRights,
        URIRef("http://publications.europa.eu/resource/authority/access-right/RESTRICTED"),
    ) in dataset
    assert (subject, DCTERMS.rights, URIRef("http://purl.obolibrary.org/obo/DUO_0000042")) in dataset
    # The BAM's read group (DEMO-SAMPLE-1) is the first of the VCF's 30 columns, read at ingest.
    samples = {f.format: f.samples for f in demo.files.all()}
    assert samples == {"BAM": ["DEMO-SAMPLE-1"], "VCF": [f"DEMO-SAMPLE-{n}" for n in range(1, 31)]}
    assert int(dataset.value(subject, URIRef(HEALTH + "numberOfUniqueIndividuals"))) == 30
    assert int(dataset.value(subject, URIRef(HEALTH + "numberOfRecords"))) == 2
    distributions = sorted(dataset.objects(subject, DCAT.distribution))
    assert [str(d).rsplit("-", 1)[1] for d in distributions] == ["bam", "vcf"]
    services = set()
    for url in distributions:
        graph = fetch(client, str(url))
        records[str(url)] = graph
        services |= set(graph.objects(url, DCAT.accessService))
        assert int(graph.value(url, DCAT.byteSize)) > 0
    assert {str(s).rsplit("/", 1)[1] for s in services} == {"htsget", "drs"}
    for service in services:
        records[str(service)] = fetch(client, str(service))

    for url, graph in records.items():
        ok, report = conforms(graph)
        assert ok, f"{url} does not conform:\n{report}"
        # Every other syntax parses to the same graph, by Accept and by ?format=.
        for fmt in ("jsonld", "rdf"):
            assert isomorphic(graph, fetch(client, url, fmt)), (url, fmt)
            assert isomorphic(graph, fetch(client, url, fmt, by_accept=False)), (url, fmt)

    # Nothing about files or people beyond what the shapes ask: no names, locations, submitters.
    everything = b"".join(client.get(url).content for url in records)
    for file in File.objects.all():
        for private in (file.name, file.inbox_name, file.location, file.submitter.username):
            assert private.encode() not in everything, private
    assert not re.search(rb"DEMO-SAMPLE-1", everything)
    response = client.get(str(datasets[0]))
    assert response["Link"] == (
        '<http://www.w3.org/ns/ldp#Resource>; rel="type", <http://testserver/fdp/profile/dataset>; rel="profile"'
    )
    # The containers the records name answer too (LDP direct containers).
    for container, member in (
        ("http://testserver/fdp/catalog/", catalogs[0]),
        (f"{catalogs[0]}/dataset/", datasets[0]),
        (f"{datasets[0]}/distribution/", distributions[0]),
    ):
        answer = client.get(container)
        assert answer.status_code == 200 and 'ldp#DirectContainer>; rel="type"' in answer["Link"], container
        listed = Graph().parse(data=answer.content, format="turtle")
        assert member in set(listed.objects(URIRef(container), URIRef(LDP + "contains"))), container

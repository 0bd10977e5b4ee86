"""FDP_CATALOG_PER_DAC: beside the node's catalog, one catalog per DAC listing its released
datasets, each conforming to the GDI Catalog shape; the LDP containers the records name answer."""

import pytest
from django.test import Client
from rdflib import Graph, URIRef
from rdflib import namespace as ns

from tests.catalogue.conftest import make_file
from tests.fdp.conftest import conforms, shapes_folder
from tests.fdp.test_lifecycle import new_dataset

pytestmark = pytest.mark.django_db

LDP = "http://www.w3.org/ns/ldp#"
BASE = "http://testserver/fdp"


def rdf(path: str) -> tuple[Graph, str]:
    response = Client().get(path)
    assert response.status_code == 200, (path, response.content[:300])
    return Graph().parse(data=response.content, format="turtle"), response["Link"]


@pytest.fixture
def released(api, steward, dac, other_dac):
    """One released dataset in each DAC, and a draft in the first (never listed)."""
    api.force_authenticate(steward)
    out = {}
    for name, owner in (("first", dac), ("second", other_dac)):
        accession = new_dataset(api, owner, [make_file(steward, f"{name}.vcf.gz", fmt="VCF")])
        assert api.post(f"/api/datasets/{accession}/release").status_code == 200
        out[owner.accession] = accession
    new_dataset(api, dac, [make_file(steward, "draft.bam")])
    return out


def test_one_catalog_per_dac_lists_its_released_datasets(settings, released, api, dac, other_dac):
    shapes_folder()
    settings.FDP_CATALOG_PER_DAC = True
    root, _ = rdf("/fdp")
    expected = {URIRef(f"{BASE}/catalog/{name}") for name in ("main", dac.accession, other_dac.accession)}
    assert set(root.objects(URIRef(BASE), URIRef("https://w3id.org/fdp/fdp-o#metadataCatalog"))) == expected
    container, link = rdf("/fdp/catalog/")
    assert set(container.objects(None, URIRef(LDP + "contains"))) == expected
    assert f'<{LDP}DirectContainer>; rel="type"' in link
    for owner in (dac, other_dac):
        url = f"{BASE}/catalog/{owner.accession}"
        catalog, link = rdf(url)
        ok, report = conforms(catalog)
        assert ok, report
        assert f'<{BASE}/profile/catalog>; rel="profile"' in link and f'<{LDP}Resource>; rel="type"' in link
        dataset = URIRef(f"{BASE}/dataset/{released[owner.accession]}")
        assert set(catalog.objects(URIRef(url), ns.DCAT.dataset)) == {dataset}
        assert owner.name in str(catalog.value(URIRef(url), ns.DCTERMS.title))
        record, _ = rdf(str(dataset))
        assert set(record.objects(dataset, ns.DCTERMS.isPartOf)) == {URIRef(f"{BASE}/catalog/main"), URIRef(url)}
        ok, report = conforms(record)
        assert ok, report
        listed, _ = rdf(f"/fdp/catalog/{owner.accession}/dataset/")
        assert set(listed.objects(None, URIRef(LDP + "contains"))) == {dataset}
    main, _ = rdf("/fdp/catalog/main")
    assert len(set(main.objects(None, ns.DCAT.dataset))) == 2

    # A DAC whose datasets are all withdrawn has no catalog any more.
    api.post(f"/api/datasets/{released[other_dac.accession]}/withdraw", {"reason": "gone"}, format="json")
    assert Client().get(f"/fdp/catalog/{other_dac.accession}").status_code == 404
    root, _ = rdf("/fdp")
    assert URIRef(f"{BASE}/catalog/{other_dac.accession}") not in set(root.objects())


def test_without_the_setting_there_is_only_the_node_catalog(released, dac):
    root, _ = rdf("/fdp")
    assert set(root.objects(URIRef(BASE), URIRef("https://w3id.org/fdp/fdp-o#metadataCatalog"))) == {
        URIRef(f"{BASE}/catalog/main")
    }
    assert Client().get(f"/fdp/catalog/{dac.accession}").status_code == 404
    assert Client().get(f"/fdp/catalog/{dac.accession}/dataset/").status_code == 404
    accession = released[dac.accession]
    listed, link = rdf(f"/fdp/dataset/{accession}/distribution/")
    assert set(listed.objects(None, URIRef(LDP + "contains"))) == {URIRef(f"{BASE}/distribution/{accession}-vcf")}
    assert f'<{LDP}DirectContainer>; rel="type"' in link
    dist, _ = rdf(f"/fdp/distribution/{accession}-vcf")
    assert (
        URIRef(f"{BASE}/distribution/{accession}-vcf"),
        ns.DCAT.mediaType,
        URIRef("https://www.iana.org/assignments/media-types/application/octet-stream"),
    ) in dist

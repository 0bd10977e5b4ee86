"""Release is refused while the FDP record fails the GDI shapes (API, admin, command), stewards
can check a record first, and the FDP follows the dataset: edits move dct:modified, a
withdrawn dataset answers 410 and leaves the catalog."""

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rdflib import Graph, URIRef
from rdflib import namespace as ns

from gdi_archive.catalogue.models import Dataset
from tests.catalogue.conftest import make_file
from tests.conftest import client_for
from tests.fdp.conftest import conforms, shapes_folder

pytestmark = pytest.mark.django_db

BAD_CATEGORY = "http://example.org/not-a-gdi-category"
SYNTHETIC = "https://publications.europa.eu/resource/authority/dataset-type/SYNTHETIC_DATA"


@pytest.fixture
def files(steward):
    return [make_file(steward, "s1.vcf.gz", fmt="VCF", size=2000), make_file(steward, "s2.bam", size=3000)]


def new_dataset(api, dac, files, **metadata) -> str:
    created = api.post(
        "/api/datasets",
        {
            "title": "Rare disease genomes",
            "dac": dac.accession,
            "description": "Whole genomes of a rare disease cohort.",
            "duo": ["DUO:0000007", "MONDO:0000001"],
            "metadata": metadata,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    accession = created.json()["accession"]
    assert (
        api.post(f"/api/datasets/{accession}/files", {"files": [f.accession for f in files]}, format="json").status_code
        == 200
    )
    return accession


def release_in_admin(steward, accession: str):
    """The admin's "release" action on one dataset, as a steward clicks it; the page it ends on."""
    return client_for(steward).post(
        "/admin/catalogue/dataset/",
        {"action": "release", "_selected_action": [Dataset.objects.get(accession=accession).pk]},
        follow=True,
    )


def rdf(path: str, client=None) -> Graph:
    response = (client or Client()).get(path)
    assert response.status_code == 200, response.content
    return Graph().parse(data=response.content, format="turtle")


def test_release_is_refused_with_what_is_wrong_until_the_steward_fixes_it(api, steward, dac, files):
    api.force_authenticate(steward)
    accession = new_dataset(api, dac, files, health_category=[BAD_CATEGORY], type="http://example.org/real")
    refused = api.post(f"/api/datasets/{accession}/release")
    assert refused.status_code == 400
    body = refused.json()
    assert body["error"] == "MetadataIncomplete"
    assert any(
        p.startswith(f"health category: {BAD_CATEGORY} is not one of the allowed values") for p in body["properties"]
    )
    assert any(p.startswith("type:") or p.startswith("type ") for p in body["properties"]), body["properties"]
    assert "health category" in body["detail"]
    assert Dataset.objects.get(accession=accession).status == "draft"
    assert Client().get(f"/fdp/dataset/{accession}").status_code == 404  # drafts are not published

    # The steward's check says the same before trying again.
    valid = api.get(f"/fdp/dataset/{accession}/valid").json()
    assert valid["conforms"] is False and valid["properties"] == body["properties"]

    fixed = api.patch(
        f"/api/datasets/{accession}",
        {"metadata": {"health_category": None, "type": SYNTHETIC, "keywords": ["rare disease"]}},
        format="json",
    )
    assert fixed.status_code == 200 and fixed.json()["metadata"] == {"type": SYNTHETIC, "keywords": ["rare disease"]}
    assert api.get(f"/fdp/dataset/{accession}/valid").json()["conforms"] is True
    assert api.post(f"/api/datasets/{accession}/release").status_code == 200

    graph = rdf(f"/fdp/dataset/{accession}")
    shapes_folder()
    ok, report = conforms(graph)
    assert ok, report
    subject = URIRef(f"http://testserver/fdp/dataset/{accession}")
    assert (subject, ns.DCAT.keyword, None) in graph
    # DUO beside the required access right; other ontologies' ids (MONDO) are not DUO terms.
    assert set(graph.objects(subject, ns.DCTERMS.rights)) == {URIRef("http://purl.obolibrary.org/obo/DUO_0000007")}
    assert subject in set(rdf("/fdp/catalog/main").objects(None, ns.DCAT.dataset))


def test_no_publisher_anywhere_is_refused_by_the_api_the_command_and_the_admin(api, steward, dac, files, settings):
    settings.FDP_PUBLISHER_NAME = None
    api.force_authenticate(steward)
    accession = new_dataset(api, dac, files)
    body = api.post(f"/api/datasets/{accession}/release").json()
    assert body["error"] == "MetadataIncomplete"
    assert any(p.startswith("publisher is missing") and "FDP_PUBLISHER_NAME" in p for p in body["properties"])

    with pytest.raises(CommandError, match="publisher is missing"):
        call_command("release_dataset", accession, "--as", steward.username)

    page = release_in_admin(steward, accession)
    assert "publisher is missing" in page.content.decode()
    assert Dataset.objects.get(accession=accession).status == "draft"

    # A steward names the publisher for this dataset: the node default is not needed.
    api.patch(
        f"/api/datasets/{accession}",
        {
            "metadata": {
                "publisher": {
                    "name": "Tartu Biobank",
                    "email": "biobank@example.org",
                    "identifier": "https://ror.org/03z77qz90",
                }
            }
        },
        format="json",
    )
    assert api.post(f"/api/datasets/{accession}/release").status_code == 200


def test_values_outside_the_vocabularies_the_shapes_name_cannot_be_released(api, steward, dac, files):
    """Theme, legal basis and legislation: the shapes ask for a controlled vocabulary without
    listing it (EU data themes, DPV, ELI); the release check does."""
    api.force_authenticate(steward)
    accession = new_dataset(
        api,
        dac,
        files,
        theme=["http://example.org/themes/genes"],
        legal_basis=["http://example.org/consent"],
        applicable_legislation=["http://example.org/a-law"],
    )
    body = api.post(f"/api/datasets/{accession}/release").json()
    assert body["error"] == "MetadataIncomplete"
    assert {p.split(":")[0] for p in body["properties"]} == {"theme", "legal basis", "applicable legislation"}
    assert any("is not an EU data theme" in p for p in body["properties"])
    assert api.get(f"/fdp/dataset/{accession}/valid").json()["properties"] == body["properties"]
    fixed = {
        "theme": ["http://publications.europa.eu/resource/authority/data-theme/HEAL"],
        "legal_basis": ["https://w3id.org/dpv#Consent"],
        "applicable_legislation": None,
    }
    assert api.patch(f"/api/datasets/{accession}", {"metadata": fixed}, format="json").status_code == 200
    assert api.post(f"/api/datasets/{accession}/release").status_code == 200


def test_metadata_of_the_wrong_shape_is_refused_at_once(api, steward, dac):
    api.force_authenticate(steward)
    for metadata, words in (
        ({"colour": "blue"}, "Unknown"),
        ({"theme": "HEAL"}, "list of IRIs"),
        ({"publisher": {"name": "X", "email": "not-an-email"}}, "email"),
        ({"legal_basis": ["dpv:Consent"]}, "IRI"),
    ):
        answer = api.post("/api/datasets", {"title": "T", "dac": dac.accession, "metadata": metadata}, format="json")
        assert answer.status_code == 400 and words in answer.json()["detail"], (metadata, answer.json())


def test_only_stewards_see_the_validation_report(api, steward, applicant, dac, files):
    api.force_authenticate(steward)
    accession = new_dataset(api, dac, files)
    assert api.get(f"/fdp/dataset/{accession}/valid").json()["conforms"] is True
    api.force_authenticate(applicant)
    assert api.get(f"/fdp/dataset/{accession}/valid").status_code == 403
    api.force_authenticate(None)
    assert api.get(f"/fdp/dataset/{accession}/valid").status_code == 401


def test_edits_move_modified_and_withdrawal_is_410_and_leaves_the_catalog(api, steward, dac, files):
    api.force_authenticate(steward)
    accession = new_dataset(api, dac, files)
    assert api.post(f"/api/datasets/{accession}/release").status_code == 200
    subject = URIRef(f"http://testserver/fdp/dataset/{accession}")
    before = rdf(f"/fdp/dataset/{accession}").value(subject, ns.DCTERMS.modified).toPython()
    assert (
        api.patch(f"/api/datasets/{accession}", {"title": "Rare disease genomes, release 2"}, format="json").status_code
        == 200
    )
    after = rdf(f"/fdp/dataset/{accession}")
    assert after.value(subject, ns.DCTERMS.modified).toPython() > before
    assert str(after.value(subject, ns.DCTERMS.title)) == "Rare disease genomes, release 2"
    # A released dataset must stay publishable: an edit that breaks its record is refused.
    broken = api.patch(
        f"/api/datasets/{accession}", {"metadata": {"conforms_to": ["http://example.org/x"]}}, format="json"
    )
    assert broken.status_code == 400 and broken.json()["error"] == "MetadataIncomplete"

    distribution = f"/fdp/distribution/{accession}-vcf"
    assert Client().get(distribution).status_code == 200
    withdrawn = api.post(f"/api/datasets/{accession}/withdraw", {"reason": "consent withdrawn"}, format="json")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    for path in (f"/fdp/dataset/{accession}", distribution):
        gone = Client().get(path)
        assert gone.status_code == 410 and gone.json()["error"] == "Gone"
    assert subject not in set(rdf("/fdp/catalog/main").objects(None, ns.DCAT.dataset))
    assert api.post(f"/api/datasets/{accession}/withdraw", {}, format="json").status_code == 409


def test_content_negotiation_answers(api):
    client = Client()
    assert client.get("/fdp")["Content-Type"].startswith("text/turtle")
    assert client.get("/fdp", HTTP_ACCEPT="text/html,*/*;q=0.8")["Content-Type"].startswith("text/turtle")
    assert client.get("/fdp", HTTP_ACCEPT="application/rdf+xml;q=0.5, application/ld+json")["Content-Type"].startswith(
        "application/ld+json"
    )
    assert client.get("/fdp", HTTP_ACCEPT="text/html").status_code == 406
    assert client.get("/fdp", {"format": "n3"}).status_code == 400
    assert client.get("/fdp/catalog/other").status_code == 404
    assert client.get("/fdp/dataset/GDID99999999999").status_code == 404
    assert client.get("/fdp/profile/dataset")["Content-Type"].startswith("text/turtle")
    shacl = Graph().parse(data=client.get("/fdp/profile/dataset/shacl").content, format="turtle")
    assert (URIRef("http://data.gdi.eu/core/p2/DatasetShape"), ns.RDF.type, ns.SH.NodeShape) in shacl
    assert client.post("/fdp").status_code == 405


def test_without_the_shapes_development_releases_with_a_warning_and_valid_is_503(
    api, steward, dac, files, settings, caplog
):
    settings.FDP_SHAPES_DIR = None  # a fresh machine with only Python: no shared standards folder
    api.force_authenticate(steward)
    accession = new_dataset(api, dac, files, health_category=[BAD_CATEGORY])
    for path in (f"/fdp/dataset/{accession}/valid", "/fdp/profile/dataset/shacl"):
        answer = api.get(path)
        assert answer.status_code == 503, (path, answer.content)
        assert answer.json()["error"] == "ShapesNotInstalled" and "FDP_SHAPES_DIR" in answer.json()["detail"]
    with caplog.at_level("WARNING", logger="gdi_archive.fdp.receivers"):
        assert api.post(f"/api/datasets/{accession}/release").status_code == 200
    assert f"{accession} is published WITHOUT checking" in caplog.text and "FDP_SHAPES_DIR" in caplog.text
    assert Client().get(f"/fdp/dataset/{accession}").status_code == 200


def test_without_the_shapes_production_refuses_to_release(api, steward, dac, files, settings):
    api.force_authenticate(steward)
    accession = new_dataset(api, dac, files)
    settings.FDP_SHAPES_DIR, settings.PRODUCTION = None, True
    refused = api.post(f"/api/datasets/{accession}/release")
    assert refused.status_code == 503
    assert refused.json()["error"] == "ShapesNotInstalled" and "FDP_SHAPES_DIR" in refused.json()["detail"]
    assert Dataset.objects.get(accession=accession).status == "draft"
    page = release_in_admin(steward, accession)
    assert "FDP_SHAPES_DIR" in page.content.decode()
    assert Dataset.objects.get(accession=accession).status == "draft"


def test_steward_fills_the_metadata_in_the_admin(steward, dac, files, settings):
    from tests.catalogue.test_admin import LIST, _inline_prefix

    settings.FDP_PUBLISHER_NAME = None  # so the admin's publisher is the only one
    client = client_for(steward)
    form = {
        "title": "Admin genomes",
        "description": "Genomes.",
        "dac": dac.pk,
        "terms_url": "",
        "terms_text": "",
        "max_access_days": 365,
        "md_publisher_name": "Tartu Biobank",
        "md_publisher_email": "bb@example.org",
        "md_health_category": ["http://data.gdi.eu/core/p2/HealthCategoryHumanGenetic"],
        "md_keywords": "rare disease, exomes",
        "md_legal_basis": ["https://w3id.org/dpv#Consent"],
        "add_files": " ".join(f.accession for f in files),
    }
    prefix = _inline_prefix(client.get(LIST + "add/"))
    form.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    bad = client.post(LIST + "add/", {**form, "md_publisher_email": "nope"})
    assert bad.status_code == 200 and not Dataset.objects.exists()
    assert client.post(LIST + "add/", form).status_code == 302
    dataset = Dataset.objects.get(title="Admin genomes")
    assert dataset.metadata == {
        "publisher": {"name": "Tartu Biobank", "email": "bb@example.org"},
        "health_category": ["http://data.gdi.eu/core/p2/HealthCategoryHumanGenetic"],
        "keywords": ["rare disease", "exomes"],
        "legal_basis": ["https://w3id.org/dpv#Consent"],
    }
    change = f"{LIST}{dataset.pk}/change/"
    assert "Tartu Biobank" in client.get(change).content.decode()
    assert client.post(change, form).status_code == 302
    assert dataset.files.count() == 2
    page = client.post(LIST, {"action": "release", "_selected_action": [dataset.pk]}, follow=True)
    assert f"{dataset.accession} released" in page.content.decode()

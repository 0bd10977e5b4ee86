"""The catalogue API with the right and the wrong personas (design.md sections 4 and 6)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from gdi_archive.audit.models import AuditEvent
from gdi_archive.catalogue.models import DAC, Dataset
from tests.conftest import client_for

from .conftest import make_file, token_client

pytestmark = pytest.mark.django_db

STEWARD_CALLS = [
    ("get", "/api/dacs", None),
    ("post", "/api/dacs", {"name": "New DAC"}),
    ("post", "/api/dacs/{dac}/members", {"username": "alice"}),
    ("post", "/api/datasets", {"title": "t", "dac": "{dac}"}),
    ("post", "/api/datasets/{dataset}/files", {"files": ["{file}"]}),
    ("post", "/api/datasets/{dataset}/release", None),
]
# A DAC's own members may seat colleagues (separation of duties): tests/catalogue/test_dac_membership.py.
STEWARD_ONLY_CALLS = [c for c in STEWARD_CALLS if not c[1].endswith("/members")]


def fill(value, names):
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


@pytest.fixture
def names(dac, draft, ready_files, applicant):
    return {"dac": dac.accession, "dataset": draft.accession, "file": ready_files["first"].accession}


def call(client, method, path, body, names):
    return getattr(client, method)(fill(path, names), fill(body, names), format="json")


@pytest.mark.parametrize("method, path, body", STEWARD_CALLS)
def test_stewardship_refuses_anonymous_with_401(method, path, body, names):
    response = call(APIClient(), method, path, body, names)
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("persona", ["applicant", "dac_member", "other_dac_member"])
@pytest.mark.parametrize("method, path, body", STEWARD_ONLY_CALLS)
def test_stewardship_refuses_other_personas_with_403(persona, method, path, body, names, request, draft):
    user = request.getfixturevalue(persona)
    before = (
        DAC.objects.count(),
        Dataset.objects.count(),
        AuditEvent.objects.filter(action__startswith="catalogue.").count(),
    )
    response = call(client_for(user), method, path, body, names)
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"
    assert (
        DAC.objects.count(),
        Dataset.objects.count(),
        AuditEvent.objects.filter(action__startswith="catalogue.").count(),
    ) == before
    draft.refresh_from_db()
    assert draft.status == "draft" and draft.files.count() == 0


def test_a_token_granting_datasets_does_not_make_a_steward(applicant, released):
    response = token_client(applicant, [released]).post("/api/dacs", {"name": "x"}, format="json")
    assert response.status_code == 403


def test_steward_walkthrough(steward, admin_user, applicant, ready_files):
    api = client_for(steward)
    created = api.post("/api/dacs", {"name": "Neuro DAC", "contact_email": "neuro@example.org"}, format="json")
    assert created.status_code == 201, created.content
    dac = created.json()
    assert dac["accession"].startswith("GDIC") and dac["name"] == "Neuro DAC" and dac["members"] == []

    # Seating members is an operator's (or the DAC's own) call: separation of duties.
    assert api.post(f"/api/dacs/{dac['accession']}/members", {"username": "alice"}, format="json").status_code == 403
    member = client_for(admin_user).post(f"/api/dacs/{dac['accession']}/members", {"username": "alice"}, format="json")
    assert member.status_code == 201 and member.json()["members"] == ["alice"]
    applicant.refresh_from_db()
    assert applicant.is_staff
    assert [d["accession"] for d in api.get("/api/dacs").json()] == [dac["accession"]]

    dataset = api.post(
        "/api/datasets",
        {
            "title": "Brain exomes",
            "dac": dac["accession"],
            "duo": ["DUO:0000006", "DUO:0000046"],
            "max_access_days": 180,
        },
        format="json",
    )
    assert dataset.status_code == 201, dataset.content
    body = dataset.json()
    assert body["status"] == "draft" and body["dac"] == dac["accession"] and body["files"] == []
    acc = body["accession"]

    first, second = ready_files["first"], ready_files["second"]
    added = api.post(f"/api/datasets/{acc}/files", {"files": [first.accession, second.accession]}, format="json")
    assert added.status_code == 200, added.content
    body = added.json()
    assert body["file_count"] == 2 and body["size"] == 4000
    assert [(f["accession"], f["has_index"]) for f in body["files"]] == [
        (first.accession, True),
        (second.accession, False),
    ]

    released = api.post(f"/api/datasets/{acc}/release")
    assert released.status_code == 200 and released.json()["status"] == "released"
    again = api.post(f"/api/datasets/{acc}/release")
    assert again.status_code == 409 and again.json()["error"] == "Conflict"


def test_stewardship_input_errors_are_clear(steward, dac, draft, ready_files, admin_user):
    api = client_for(steward)
    bad = api.post(
        "/api/datasets", {"title": "x", "dac": dac.accession, "duo": ["DUO:0000042", "DUO:0000006"]}, format="json"
    )
    assert bad.status_code == 400 and "at most one" in bad.json()["detail"]
    missing = api.post("/api/datasets", {"dac": dac.accession}, format="json")
    assert missing.status_code == 400 and "title" in missing.json()["detail"]
    unknown = api.post(
        f"/api/datasets/{draft.accession}/files",
        {"files": [ready_files["first"].accession, "GDIF00000099999"]},
        format="json",
    )
    assert unknown.status_code == 400 and unknown.json() == {
        "error": "InvalidInput",
        "detail": unknown.json()["detail"],
    }
    assert (
        "GDIF00000099999" in unknown.json()["detail"] and ready_files["first"].accession not in unknown.json()["detail"]
    )
    empty = api.post(f"/api/datasets/{draft.accession}/release")
    assert empty.status_code == 409
    nobody = client_for(admin_user).post(f"/api/dacs/{dac.accession}/members", {"username": "nobody"}, format="json")
    assert nobody.status_code == 400
    assert api.post("/api/dacs/GDIC99999999999/members", {"username": "alice"}, format="json").status_code == 404
    assert api.post("/api/datasets/GDID99999999999/release").status_code == 404
    assert api.post("/api/datasets/GDID99999999999/files", {"files": ["x"]}, format="json").status_code == 404
    dup = api.post("/api/dacs", {"name": dac.name}, format="json")
    assert dup.status_code == 409
    not_json = api.post("/api/dacs", "name=x", content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 415


# --- the reading side -------------------------------------------------------------------------


def test_anonymous_reads_nothing(released):
    for path in ("/api/datasets", f"/api/datasets/{released.accession}/files"):
        response = APIClient().get(path)
        assert response.status_code == 401 and response.json()["error"] == "Unauthorized"


def test_token_lists_the_granted_released_datasets(applicant, released, dac, steward):
    other = Dataset.objects.create(title="Not granted", dac=dac, status="released")
    draft = Dataset.objects.create(title="Granted but draft", dac=dac)
    response = token_client(applicant, [released, draft]).get("/api/datasets")
    assert response.status_code == 200
    assert response.json() == [
        {"accession": released.accession, "title": released.title, "file_count": 2, "size": 4000}
    ]
    assert other.accession not in response.content.decode()


def test_the_listing_totals_are_whole_numbers_and_an_empty_dataset_counts_zero(applicant, released, dac, steward):
    empty = Dataset.objects.create(title="Nothing in it yet", dac=dac)
    Dataset.objects.filter(pk=empty.pk).update(status="released")  # the service refuses an empty release
    empty.refresh_from_db()
    response = token_client(applicant, [released, empty]).get("/api/datasets")
    assert response.status_code == 200
    rows = {row["accession"]: row for row in response.json()}
    assert rows[empty.accession] == {
        "accession": empty.accession,
        "title": "Nothing in it yet",
        "file_count": 0,
        "size": 0,
    }
    assert rows[released.accession]["file_count"] == 2
    assert re.search(rb'"size":4000[,}]', response.content) and re.search(rb'"size":0[,}]', response.content)


def test_token_lists_files_of_a_granted_dataset(applicant, released, ready_files):
    response = token_client(applicant, [released]).get(f"/api/datasets/{released.accession}/files")
    assert response.status_code == 200
    first = ready_files["first"]
    assert response.json()[0] == {
        "accession": first.accession,
        "name": "sample1.bam",
        "size": 1500,
        "sha256": first.sha256,
        "format": "BAM",
        "has_index": True,
    }
    assert [f["has_index"] for f in response.json()] == [True, False]


@pytest.mark.parametrize("persona", ["applicant", "dac_member", "steward", "admin_user"])
def test_not_granted_missing_and_withdrawn_look_the_same(persona, request, released, steward):
    client = token_client(request.getfixturevalue(persona), [])
    not_granted = client.get(f"/api/datasets/{released.accession}/files")
    missing = client.get("/api/datasets/GDID99999999999/files")
    assert not_granted.status_code == missing.status_code == 404
    assert not_granted.json()["error"] == missing.json()["error"] == "NotFound"
    assert client.get("/api/datasets").json() == []

    from gdi_archive.catalogue.services import withdraw_dataset

    withdraw_dataset(actor=steward, dataset=released)
    granted = token_client(request.getfixturevalue(persona), [released])
    assert granted.get(f"/api/datasets/{released.accession}/files").status_code == 404
    assert granted.get("/api/datasets").json() == []


def test_a_live_entitlement_grants_a_signed_in_user(applicant, other_applicant, released):
    """Through the passports app: a session user with a live entitlement reads the dataset."""
    from gdi_archive.access.models import Entitlement

    Entitlement.objects.create(user=applicant, dataset=released, end=timezone.now() + timedelta(days=30))
    Entitlement.objects.create(user=other_applicant, dataset=released, end=timezone.now() - timedelta(days=1))
    assert [d["accession"] for d in client_for(applicant).get("/api/datasets").json()] == [released.accession]
    assert client_for(other_applicant).get("/api/datasets").json() == []
    assert client_for(other_applicant).get(f"/api/datasets/{released.accession}/files").status_code == 404


def test_files_list_hides_files_that_are_no_longer_ready(applicant, released, ready_files, steward):
    ready_files["second"].status = "error"
    ready_files["second"].save()
    response = token_client(applicant, [released]).get(f"/api/datasets/{released.accession}/files")
    assert [f["accession"] for f in response.json()] == [ready_files["first"].accession]
    assert make_file  # imported for other modules' fixtures


def test_a_steward_scripts_with_a_passport_token(steward, applicant):
    """The README's curl walkthrough: HTTP Basic -> POST /api/tokens -> Bearer on the stewardship API."""
    import base64

    from tests.conftest import PASSWORD

    def token_for(user):
        basic = base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
        minted = APIClient().post("/api/tokens", {}, format="json", HTTP_AUTHORIZATION=f"Basic {basic}")
        assert minted.status_code == 201, minted.content
        return minted.json()["token"]

    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(steward)}")
    assert bearer.post("/api/dacs", {"name": "Token DAC"}, format="json").status_code == 201
    applicant_bearer = APIClient()
    applicant_bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(applicant)}")
    assert applicant_bearer.post("/api/dacs", {"name": "Other"}, format="json").status_code == 403
    assert applicant_bearer.get("/api/datasets").json() == []
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert bad.post("/api/dacs", {"name": "x"}, format="json").status_code == 401

"""Authorisation on every request, through the clearinghouse: tokens, personas, revoked and expired."""

import base64
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import PASSWORD, client_for

from .conftest import entitle

pytestmark = pytest.mark.django_db


def bearer_client(user) -> Client:
    """A passport token minted through POST /api/tokens, then used as a bearer token."""
    minted = Client().post(
        "/api/tokens",
        {},
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode(),
    )
    assert minted.status_code == 201, minted.content
    return Client(HTTP_AUTHORIZATION=f"Bearer {minted.json()['token']}")


def fetch(client, acc, keys):
    return client.get(f"/api/files/{acc}", {"start": 0, "end": 100}, HTTP_X_C4GH_PUBLIC_KEY=keys.header_value)


def test_bearer_passport_token_downloads_and_gets_tickets(stored, applicant, client_keys):
    entitle(applicant, stored["dataset"])
    client = bearer_client(applicant)
    response = fetch(client, stored["file"].accession, client_keys)
    assert response.status_code == 200
    assert client_keys.decrypt(b"".join(response.streaming_content)) == stored["plain"][:100]
    ticket = client.get(
        f"/htsget/reads/{stored['file'].accession}",
        {"encryptionScheme": "C4GH"},
        HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
    )
    # The stored test file is not a BAM: the reads endpoint does not know it.
    assert ticket.status_code == 404 and ticket.json()["htsget"]["error"] == "NotFound"


def test_wrong_persona_gets_404_without_token_401(stored, applicant, other_applicant, dac_member, steward, client_keys):
    entitle(applicant, stored["dataset"])
    acc = stored["file"].accession
    for persona in (other_applicant, dac_member, steward):
        response = fetch(client_for(persona), acc, client_keys)
        assert response.status_code == 404, persona
        assert response.json() == {"error": "NotFound", "detail": response.json()["detail"]}
    anonymous = fetch(Client(), acc, client_keys)
    assert anonymous.status_code == 401
    bad_token = fetch(Client(HTTP_AUTHORIZATION="Bearer not-a-token"), acc, client_keys)
    assert bad_token.status_code == 401


def test_revoked_entitlement_stops_downloads_at_once(stored, applicant, dac_member, client_keys):
    entitlement = entitle(applicant, stored["dataset"])
    client = bearer_client(applicant)
    acc = stored["file"].accession
    assert fetch(client, acc, client_keys).status_code == 200
    revoked = client_for(dac_member).post(
        f"/api/entitlements/{entitlement.pk}/revoke", {"reason": "misuse"}, format="json"
    )
    assert revoked.status_code == 200, revoked.content
    response = fetch(client, acc, client_keys)
    assert response.status_code == 404
    ticket = client.get(
        f"/htsget/variants/{acc}", {"encryptionScheme": "C4GH"}, HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value
    )
    assert ticket.status_code == 404 and ticket.json()["htsget"]["error"] == "NotFound"
    assert client.get(f"/ga4gh/drs/v1/objects/{acc}").status_code == 404


def test_expired_entitlement_gives_nothing(stored, applicant, client_keys):
    entitlement = entitle(applicant, stored["dataset"])
    client = client_for(applicant)
    assert fetch(client, stored["file"].accession, client_keys).status_code == 200
    entitlement.end = timezone.now() - timedelta(seconds=1)
    entitlement.save()
    assert fetch(client, stored["file"].accession, client_keys).status_code == 404


def test_withdrawn_dataset_is_not_served(stored, applicant, client_keys):
    entitle(applicant, stored["dataset"])
    stored["dataset"].status = "withdrawn"
    stored["dataset"].save()
    assert fetch(client_for(applicant), stored["file"].accession, client_keys).status_code == 404

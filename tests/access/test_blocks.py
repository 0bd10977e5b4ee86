"""DAC blocks (design.md 7, issue 10 item 7): a DAC member or an operator blocks a person for the
DAC's datasets; the block overrides our entitlements and brokers' visas at once; lifting it
restores them; every change is audited and listed in the admin."""

import threading

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from gdi_archive.accounts.models import ExternalIdentity
from gdi_archive.audit.models import AuditEvent
from tests.conftest import client_for
from tests.passports.conftest import Broker, grant, make_dataset
from tests.reliability.conftest import bearer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(dac):
    """Another broker, trusted for this DAC's datasets (scoped, as design.md 7 asks)."""
    server = Broker()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    from gdi_archive.passports import trust

    trust.jwks_cache.clear()
    try:
        with override_settings(TRUSTED_ISSUERS=[server.trust_entry(grants={"dacs": [dac.accession]})]):
            yield server
    finally:
        trust.jwks_cache.clear()
        server.shutdown()
        server.server_close()


def listed(client) -> list[str]:
    response = client.get("/api/datasets")
    assert response.status_code == 200, response.content
    return sorted(d["accession"] for d in response.json())


def broker_client(broker, dataset, *, sub="alice@broker") -> APIClient:
    token = broker.passport([broker.visa(sub=sub, value=dataset.url)], sub=sub)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def block(client, dac, **body):
    return client.post(f"/api/dacs/{dac.accession}/blocks", {"reason": "Misuse reported.", **body}, format="json")


def test_who_may_block(dac, dac_member, other_dac_member, steward, admin_user, applicant, other_applicant):
    for outsider in (other_dac_member, steward, applicant):
        response = block(client_for(outsider), dac, user=other_applicant.username)
        assert response.status_code == 403, (outsider, response.content)
        assert response.json()["error"] == "Forbidden"
        assert client_for(outsider).get(f"/api/dacs/{dac.accession}/blocks").status_code == 403
    assert block(APIClient(), dac, user=other_applicant.username).status_code == 401
    made = block(client_for(dac_member), dac, user=other_applicant.username)
    assert made.status_code == 201, made.content
    assert made.json()["id"] and made.json()["user"] == "bob" and made.json()["dac"] == dac.accession
    by_operator = block(client_for(admin_user), dac, iss="https://broker.example.org", sub="mallory")
    assert by_operator.status_code == 201, by_operator.content
    listing = client_for(dac_member).get(f"/api/dacs/{dac.accession}/blocks")
    assert listing.status_code == 200
    assert {b["id"] for b in listing.json()} == {made.json()["id"], by_operator.json()["id"]}
    missing = client_for(dac_member).post(
        "/api/dacs/GDIC99999999999/blocks", {"user": "bob", "reason": "x"}, format="json"
    )
    assert missing.status_code == 404
    assert AuditEvent.objects.filter(action="access.dac.blocked").count() == 2
    # An outsider cannot lift it either; a lifted block is gone from the list.
    path = f"/api/dacs/{dac.accession}/blocks/{made.json()['id']}"
    assert client_for(other_dac_member).delete(path).status_code == 403
    assert client_for(dac_member).delete(path).status_code == 204
    assert client_for(dac_member).delete(path).status_code == 404
    assert AuditEvent.objects.filter(action="access.dac.block_lifted").count() == 1
    assert [b["id"] for b in client_for(dac_member).get(f"/api/dacs/{dac.accession}/blocks").json()] == [
        by_operator.json()["id"]
    ]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"user": "alice", "iss": "https://x", "sub": "y"},
        {"iss": "https://x"},
        {"sub": "y"},
        {"user": "nobody-here"},
        {"user": ["alice"]},
    ],
)
def test_bad_block_bodies_are_400(dac, dac_member, applicant, body):
    response = client_for(dac_member).post(
        f"/api/dacs/{dac.accession}/blocks", {"reason": "x", **body} if body else {"reason": "x"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "InvalidInput"
    assert (
        client_for(dac_member).post(f"/api/dacs/{dac.accession}/blocks", {"user": "alice"}, format="json").status_code
        == 400
    )  # no reason


def test_a_block_overrides_our_entitlement_at_once_and_lifting_restores_it(dac, other_dac, dac_member, applicant):
    dataset, elsewhere = make_dataset(dac), make_dataset(other_dac, title="Other DAC's")
    grant(applicant, dataset)
    grant(applicant, elsewhere)
    token = bearer_client(applicant)  # minted before the block: it already carries the visa
    session = client_for(applicant)
    assert listed(token) == listed(session) == sorted([dataset.accession, elsewhere.accession])
    made = block(client_for(dac_member), dac, user=applicant.username)
    assert listed(token) == listed(session) == [elsewhere.accession]  # the other DAC's grant stands
    # Our visas for other clearinghouses leave the blocked DAC's datasets out.
    visas = session.get(f"/api/permissions/{applicant.username}")
    assert visas.status_code == 200
    assert dataset.url not in str(_visa_values(visas.json()["ga4gh_passport_v1"]))
    client_for(dac_member).delete(f"/api/dacs/{dac.accession}/blocks/{made.json()['id']}")
    assert listed(token) == sorted([dataset.accession, elsewhere.accession])


def _visa_values(visas: list[str]) -> list[str]:
    import jwt as pyjwt

    return [pyjwt.decode(v, options={"verify_signature": False})["ga4gh_visa_v1"]["value"] for v in visas]


def test_a_block_overrides_a_brokers_visa_grant(broker, dac, dac_member):
    dataset = make_dataset(dac)
    assert listed(broker_client(broker, dataset)) == [dataset.accession]
    made = block(client_for(dac_member), dac, iss=broker.iss, sub="alice@broker")
    assert made.status_code == 201, made.content
    assert listed(broker_client(broker, dataset)) == []
    assert listed(broker_client(broker, dataset, sub="bob@broker")) == [dataset.accession]  # only that person
    client_for(dac_member).delete(f"/api/dacs/{dac.accession}/blocks/{made.json()['id']}")
    assert listed(broker_client(broker, dataset)) == [dataset.accession]


def test_blocking_a_local_user_also_blocks_their_linked_external_identities(broker, dac, dac_member, applicant):
    dataset = make_dataset(dac)
    ExternalIdentity.objects.create(user=applicant, issuer=broker.iss, subject="alice@broker")
    assert listed(broker_client(broker, dataset)) == [dataset.accession]
    assert block(client_for(dac_member), dac, user=applicant.username).status_code == 201
    assert listed(broker_client(broker, dataset)) == []


def test_blocking_an_external_identity_also_blocks_the_local_user_it_is_linked_to(dac, dac_member, applicant):
    dataset = make_dataset(dac)
    grant(applicant, dataset)
    ExternalIdentity.objects.create(user=applicant, issuer="https://login.elixir-czech.org/oidc", subject="a1@lsaai")
    assert listed(client_for(applicant)) == [dataset.accession]
    made = block(client_for(dac_member), dac, iss="https://login.elixir-czech.org/oidc/", sub="a1@lsaai")
    assert made.status_code == 201 and made.json()["iss"] == "https://login.elixir-czech.org/oidc"
    assert listed(client_for(applicant)) == []


def test_the_block_is_listed_in_the_dacs_admin(dac, other_dac, dac_member, other_dac_member, applicant, admin_user):
    made = block(client_for(dac_member), dac, user=applicant.username)
    page = client_for(dac_member).get("/admin/access/dacblock/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Misuse reported." in text and applicant.username in text
    assert "Misuse reported." in client_for(admin_user).get("/admin/access/dacblock/").content.decode()
    # Another DAC's member does not see it.
    assert "Misuse reported." not in client_for(other_dac_member).get("/admin/access/dacblock/").content.decode()
    detail = client_for(dac_member).get(f"/admin/access/dacblock/{made.json()['id']}/change/")
    assert detail.status_code == 200 and dac.accession in detail.content.decode()
    # Lifting from the admin goes through the service (audited).
    lifted = client_for(dac_member).post(
        "/admin/access/dacblock/", {"action": "lift_selected", "_selected_action": [made.json()["id"]]}
    )
    assert lifted.status_code == 302
    assert AuditEvent.objects.filter(action="access.dac.block_lifted").count() == 1

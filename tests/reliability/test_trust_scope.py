"""Per-person objects belong to the person, not to a bare name (design.md 7; issue 10 item 5).

A trusted broker whose subject happens to be `alice` is not this archive's user alice: it gets
its own local user (linked by iss + sub), and none of alice's exports, tokens, keys or access
requests. Each attack goes through the public API with a real broker passport (PyJWT, JWKS
over HTTP) and a real archived file.
"""

import threading

import pytest
from django.test import override_settings

from gdi_archive.accounts import services as accounts
from tests.access.factories import request_body
from tests.conftest import client_for
from tests.downloads.conftest import ClientKeyPair, release, store_ready_file
from tests.passports.conftest import Broker, bearer, grant, mint

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_alice(dac):
    """A broker trusted for the test DAC's datasets, whose user is called `alice` there too."""
    server = Broker()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with override_settings(TRUSTED_ISSUERS=[server.trust_entry(grants={"dacs": [dac.accession]})]):
            yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def alices_things(steward, dac, applicant, tmp_path):
    """Local alice with an entitlement, a passport token, a registered key, an export and a request."""
    plain = tmp_path / "reads.bin"
    plain.write_bytes(b"ACGT" * 5000)
    file = store_ready_file(submitter=steward, path=plain)
    dataset = release(dac=dac, steward=steward, files=[file])
    grant(applicant, dataset)
    keys = ClientKeyPair(tmp_path, "alice")
    accounts.add_public_key(user=applicant, value=keys.pem, label="alice's laptop")
    token = mint(client_for(applicant), label="alice's script")
    from rest_framework.test import APIClient

    alice = bearer(APIClient(), token)
    export = alice.post("/api/exports", {"files": [file.accession]}, format="json")
    assert export.status_code == 202, export.content  # with alice's registered key
    created = client_for(applicant).post("/api/access-requests", request_body(dataset), format="json")
    assert created.status_code == 201, created.content
    return {
        "file": file,
        "dataset": dataset,
        "export": export.json()["id"],
        "request": created.json()["id"],
        "alice": alice,
    }


def impostor(api, broker, dataset=None):
    """A broker passport with `sub: alice`, with a grant for `dataset` when given."""
    visas = [broker.visa(sub="alice", value=dataset.url)] if dataset is not None else []
    return bearer(api, broker.passport(visas, sub="alice"))


def test_broker_alice_does_not_read_local_alices_export(api, broker_alice, alices_things):
    export_id = alices_things["export"]
    assert alices_things["alice"].get(f"/api/exports/{export_id}").status_code == 200
    response = impostor(api, broker_alice, alices_things["dataset"]).get(f"/api/exports/{export_id}")
    assert response.status_code == 404, response.content
    assert response.json()["error"] == "NotFound"


def test_broker_alice_does_not_see_local_alices_requests(api, broker_alice, alices_things):
    client = impostor(api, broker_alice)
    listed = client.get("/api/access-requests")
    assert listed.status_code == 200 and listed.json() == []
    assert client.get(f"/api/access-requests/{alices_things['request']}").status_code == 404


def test_broker_alice_does_not_use_local_alices_registered_key(api, broker_alice, alices_things):
    client = impostor(api, broker_alice, alices_things["dataset"])
    acc = alices_things["file"].accession
    # The broker's alice may read the file, but no key of local alice is used for her.
    assert client.get(f"/api/files/{acc}/header").status_code == 400
    assert client.post("/api/exports", {"files": [acc]}, format="json").status_code == 400
    # Local alice's registered key still serves her.
    assert alices_things["alice"].get(f"/api/files/{acc}/header").status_code == 200


def test_broker_alice_does_not_reach_local_alices_tokens_or_keys(api, broker_alice, alices_things):
    client = impostor(api, broker_alice)
    # A bearer token does not mint or list tokens, nor open the key page: those are alice's session.
    assert client.post("/api/tokens", {}, format="json").status_code == 401
    for page in ("/account/tokens", "/keys"):
        response = client.get(page)
        assert response.status_code == 302 and "/login" in response["Location"], page
    assert b"alice's script" not in client.get("/account/tokens", follow=True).content


def test_broker_alice_has_her_own_beacon_budget(api, broker_alice, alices_things, settings):
    """The budget is per person (iss + sub), never per bare sub: spending it as the broker's
    alice leaves local alice's untouched, and the other way round."""
    from rest_framework.test import APIClient

    from tests.beacon.helpers import individuals
    from tests.conftest import clear_own_cache

    clear_own_cache()
    settings.BEACON_QUERY_BUDGET = 2
    client = impostor(api, broker_alice)
    for _ in range(2):
        assert individuals(client).status_code == 200
    assert individuals(client).status_code == 429
    local = alices_things["alice"]
    assert individuals(local).status_code == 200
    assert individuals(local).status_code == 200
    assert individuals(local).status_code == 429
    assert individuals(impostor(APIClient(), broker_alice)).status_code == 429
    clear_own_cache()

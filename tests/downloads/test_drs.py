"""DRS 1.4: objects and access URLs for readable files only; the access URL gives a Crypt4GH stream."""

import pytest
from django.test import Client

from .conftest import token_client

pytestmark = pytest.mark.django_db


def test_object_and_access_url_round_trip(stored, applicant, client_keys):
    client = token_client(applicant, [stored["dataset"]])
    acc = stored["file"].accession
    response = client.get(f"/ga4gh/drs/v1/objects/{acc}")
    assert response.status_code == 200
    obj = response.json()
    assert obj["id"] == acc and obj["self_uri"] == f"drs://testserver/{acc}"
    assert obj["size"] == len(stored["plain"])
    assert {"checksum": stored["file"].sha256, "type": "sha-256"} in obj["checksums"]
    access_id = obj["access_methods"][0]["access_id"]
    access = client.get(
        f"/ga4gh/drs/v1/objects/{acc}/access/{access_id}", HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value
    )
    assert access.status_code == 200, access.content
    url = access.json()["url"]
    # The URL works without a token, and the bytes decrypt to the object.
    data = Client().get(url.removeprefix("http://testserver"))
    assert data.status_code == 200
    body = b"".join(data.streaming_content)
    assert client_keys.decrypt(body) == stored["plain"]
    # Resuming through the signed URL continues the same stream.
    tail = Client().get(url.removeprefix("http://testserver"), HTTP_RANGE="bytes=1000-", HTTP_IF_RANGE=data["ETag"])
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == body[1000:]


def test_unreadable_objects_are_404_and_no_token_is_401(stored, other_applicant, client_keys):
    acc = stored["file"].accession
    response = Client().get(f"/ga4gh/drs/v1/objects/{acc}")
    assert response.status_code == 401 and response.json()["status_code"] == 401
    stranger = token_client(other_applicant, [])
    for path in (
        f"/ga4gh/drs/v1/objects/{acc}",
        f"/ga4gh/drs/v1/objects/{acc}/access/c4gh",
        "/ga4gh/drs/v1/objects/GDIF00000000999",
    ):
        response = stranger.get(path, HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value)
        assert response.status_code == 404 and response.json() == {"msg": response.json()["msg"], "status_code": 404}


def test_access_without_key_is_400(stored, applicant):
    client = token_client(applicant, [stored["dataset"]])
    response = client.get(f"/ga4gh/drs/v1/objects/{stored['file'].accession}/access/c4gh")
    assert response.status_code == 400 and response.json()["status_code"] == 400


def test_service_info_and_options(client, stored):
    info = client.get("/ga4gh/drs/v1/service-info").json()
    assert info["type"] == {"group": "org.ga4gh", "artifact": "drs", "version": "1.4.0"}
    assert info["maxBulkRequestLength"] >= 1
    options = client.options(f"/ga4gh/drs/v1/objects/{stored['file'].accession}")
    assert options.status_code == 200 and "BearerAuth" in options.json()["supported_types"]

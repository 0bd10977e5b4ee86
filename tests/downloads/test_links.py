"""Links that work without a token obey revocation and DAC blocks (issue 10, item 6).

A DRS access URL, an htsget body link and an export link are fetched by a client holding no
token. Each is made for one person and one file; every request through it re-checks that
person's grant before a byte goes out. On S3 (a real SeaweedFS, which checks signatures) the
archive redirects to a presigned URL made for that request alone, living at most
SIGNED_URL_TTL; a revocation or a DAC block also removes the person's export copies.
"""

import base64
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client, TestCase

from gdi_archive import storage
from gdi_archive.downloads.models import Export
from tests.conftest import client_for
from tests.reliability.conftest import bearer_client

from . import genomic_data
from .conftest import entitle, release, store_ready_file

pytestmark = pytest.mark.django_db

SERVER = "http://testserver"


@pytest.fixture(params=["local", "s3"])
def store(request):
    """Run each test on local folders and on SeaweedFS."""
    if request.param == "s3":
        request.getfixturevalue("s3_env")
        for each in (storage.archive_store(), storage.inbox_store(), storage.outbox_store()):
            each.ensure_ready()
    return request.param


def _http(headers: dict) -> dict:
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


def fetch(url: str, headers: dict | None = None) -> tuple[int, bytes, str]:
    """GET a link as a client without a token would; follow the archive's redirect to the store.
    Returns (status, body, presigned URL or "")."""
    headers = headers or {}
    assert url.startswith(SERVER), url  # every tokenless link points at the archive
    response = Client().get(url.removeprefix(SERVER), **_http(headers))
    if response.status_code in (301, 302, 303, 307, 308):
        location = response["Location"]
        followed = requests.get(location, headers=headers, timeout=30)
        return followed.status_code, followed.content, location
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, body, ""


@pytest.fixture
def bam_world(db, store, steward, dac, applicant, client_keys, tmp_path, settings):
    """A released BAM, alice entitled and holding a passport token, and her three tokenless links."""
    settings.SIGNED_URL_TTL = 120
    bam = genomic_data.make_bam(tmp_path, reads_per_ref=300, unmapped=5)
    data = store_ready_file(submitter=steward, path=bam)
    dataset = release(dac=dac, steward=steward, files=[data])
    entitlement = entitle(applicant, dataset)
    client = bearer_client(applicant)
    key = {"HTTP_X_C4GH_PUBLIC_KEY": client_keys.header_value}

    drs = client.get(f"/ga4gh/drs/v1/objects/{data.accession}/access/c4gh", **key)
    assert drs.status_code == 200, drs.content
    ticket = client.get(f"/htsget/reads/{data.accession}", {"encryptionScheme": "C4GH"}, **key)
    assert ticket.status_code == 200, ticket.content
    urls = ticket.json()["htsget"]["urls"]
    header = base64.b64decode(urls[0]["url"].split(",", 1)[1])
    body = urls[1]
    assert "X-Amz-" not in body["url"]  # no presigned URL in a ticket: it would outlive a revocation
    with TestCase.captureOnCommitCallbacks(execute=True):
        export = client.post("/api/exports", {"files": [data.accession]}, content_type="application/json", **key)
    assert export.status_code == 202, export.content
    done = client.get(f"/api/exports/{export.json()['id']}").json()
    assert done["status"] == "done", done
    return {
        "file": data,
        "dataset": dataset,
        "entitlement": entitlement,
        "plain": bam.read_bytes(),
        "drs": drs.json()["url"],
        "header": header,
        "body": body,
        "export": done["links"][0]["url"],
        "export_id": done["id"],
    }


def _all_links_serve(world, client_keys, store):
    status, data, presigned = fetch(world["drs"])
    assert status == 200 and client_keys.decrypt(data) == world["plain"]
    status, data, body_presigned = fetch(world["body"]["url"], world["body"]["headers"])
    assert status == 206 and client_keys.decrypt(world["header"] + data) == world["plain"]
    status, data, export_presigned = fetch(world["export"])
    assert status == 200 and client_keys.decrypt(data) == world["plain"]
    if store == "s3":
        # Presigned URLs are made per request, after the check, and live at most SIGNED_URL_TTL.
        for url in (body_presigned, export_presigned):
            assert url.startswith("http://127.0.0.1"), url
            lifetime = int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0])
            assert 0 < lifetime <= 120
    else:
        assert not body_presigned and not export_presigned


def _all_links_refused(world):
    for url, headers in ((world["drs"], {}), (world["body"]["url"], world["body"]["headers"]), (world["export"], {})):
        status, data, presigned = fetch(url, headers)
        assert status == 404, (url, status, data[:200])
        assert not presigned


def test_revocation_stops_every_tokenless_link_and_removes_the_export_copy(
    bam_world, store, dac_member, applicant, client_keys
):
    world = bam_world
    export = Export.objects.get(pk=world["export_id"])
    location = export.items.get().location
    assert storage.outbox_store().exists(location)
    _all_links_serve(world, client_keys, store)

    with TestCase.captureOnCommitCallbacks(execute=True):
        revoked = client_for(dac_member).post(
            f"/api/entitlements/{world['entitlement'].pk}/revoke", {"reason": "Consent withdrawn."}, format="json"
        )
    assert revoked.status_code == 200, revoked.content

    _all_links_refused(world)
    assert not storage.outbox_store().exists(location)
    export.refresh_from_db()
    assert export.status == Export.Status.REVOKED and "Consent withdrawn." in export.error
    assert all(item.location == "" for item in export.items.all())


def test_a_dac_block_stops_every_tokenless_link_and_lifting_it_restores_them(
    bam_world, store, dac, dac_member, applicant, client_keys
):
    world = bam_world
    location = Export.objects.get(pk=world["export_id"]).items.get().location
    _all_links_serve(world, client_keys, store)

    member = client_for(dac_member)
    with TestCase.captureOnCommitCallbacks(execute=True):
        blocked = member.post(
            f"/api/dacs/{dac.accession}/blocks", {"user": applicant.username, "reason": "Data leak."}, format="json"
        )
    assert blocked.status_code == 201, blocked.content

    _all_links_refused(world)
    assert not storage.outbox_store().exists(location)
    export = Export.objects.get(pk=world["export_id"])
    assert export.status == Export.Status.REVOKED and "Data leak." in export.error

    lifted = member.delete(f"/api/dacs/{dac.accession}/blocks/{blocked.json()['id']}")
    assert lifted.status_code == 204
    # The entitlement was never revoked: the short-lived block links work again.
    status, data, _ = fetch(world["drs"])
    assert status == 200 and client_keys.decrypt(data) == world["plain"]
    status, data, _ = fetch(world["body"]["url"], world["body"]["headers"])
    assert status == 206


def test_a_link_is_bound_to_its_file_range_and_person(bam_world, store, applicant, other_applicant):
    """Changing any bound field breaks the signature; an unbound (old-style) link is refused."""
    world = bam_world
    url = world["body"]["url"]
    query = parse_qs(urlsplit(url).query)
    for name, value in (("user", str(other_applicant.pk)), ("range", "0-999999999"), ("ent", ""), ("visa", "X")):
        changed = {**{k: v[0] for k, v in query.items()}, name: value}
        forged = urlsplit(url)._replace(query="&".join(f"{k}={v}" for k, v in changed.items())).geturl()
        assert fetch(forged, world["body"]["headers"])[0] == 404, name
    # A link without the person (as tickets were before links were bound) is refused.
    unbound = {k: v[0] for k, v in query.items() if k not in ("user", "ent", "visa", "until")}
    old = urlsplit(url)._replace(query="&".join(f"{k}={v}" for k, v in unbound.items())).geturl()
    assert fetch(old, world["body"]["headers"])[0] == 404
    # A deactivated account's links stop at once.
    applicant.is_active = False
    applicant.save(update_fields=["is_active"])
    assert fetch(world["drs"])[0] == 404


def test_an_export_still_queued_when_access_ends_is_never_written(stored, applicant, dac_member, client_keys):
    """Revoked before a worker took it: it is withdrawn, and a worker that comes later writes nothing."""
    from gdi_archive.downloads.tasks import run_export

    entitlement = entitle(applicant, stored["dataset"])
    client = client_for(applicant)
    response = client.post(
        "/api/exports",
        {"files": [stored["file"].accession]},
        format="json",
        HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
    )
    assert response.status_code == 202  # queued on commit, which this test's transaction never reaches
    with TestCase.captureOnCommitCallbacks(execute=True):
        client_for(dac_member).post(f"/api/entitlements/{entitlement.pk}/revoke", {"reason": "Ended."}, format="json")
    export = Export.objects.get(pk=response.json()["id"])
    assert export.status == Export.Status.REVOKED and "Ended." in export.error
    run_export.delay(str(export.id))
    export.refresh_from_db()
    assert export.status == Export.Status.REVOKED
    assert not export.items.filter(done=True).exists()
    assert client.get(f"/api/exports/{export.id}").json()["links"] == []

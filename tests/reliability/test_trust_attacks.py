"""Trust, attacked across the merged pieces (issue 10; design.md 7, "Trust, scoped" and "Trust details").

Scoped brokers, identity links, DAC blocks and person-bound tokenless links were written apart;
here they are attacked together, through the public API, with real broker passports (PyJWT,
JWKS over HTTP), real archived files and, for the links, local folders and SeaweedFS.

The person in these attacks is local alice, entitled to a dataset of the DAC, and her identity
`x` at broker A, which is trusted to link its subjects to local users (`link_identities`). A
passport from A for `x` carrying A's LinkedIdentities visa (x = alice) and alice's archive-signed
visa reads alice's dataset, as the contract allows; everything a block or a revocation of alice
does must reach that passport, and every link it made, too.
"""

import base64
import threading
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from gdi_archive import storage
from gdi_archive.downloads.models import Export
from tests.beacon.conftest import beacon_dataset, vcf  # noqa: F401 (fixtures used below)
from tests.conftest import client_for
from tests.downloads import genomic_data
from tests.downloads.conftest import ClientKeyPair, entitle, release, store_ready_file
from tests.downloads.test_links import fetch
from tests.passports.conftest import Broker, bearer

pytestmark = pytest.mark.django_db

OWN = "http://testserver"


def _serve(server: Broker) -> Broker:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def brokers():
    """Broker A and broker B, two real JWKS servers."""
    from gdi_archive.passports import trust

    a, b = _serve(Broker()), _serve(Broker())
    trust.jwks_cache.clear()
    try:
        yield a, b
    finally:
        trust.jwks_cache.clear()
        for server in (a, b):
            server.shutdown()
            server.server_close()


@pytest.fixture
def trusted(brokers, dac):
    """A may link to local users and grants nothing itself; B grants the DAC's datasets, no links."""
    a, b = brokers
    with override_settings(
        TRUSTED_ISSUERS=[
            a.trust_entry(grants={"dacs": []}, link_identities=True),
            b.trust_entry(grants={"dacs": [dac.accession]}),
        ]
    ):
        yield a, b


@pytest.fixture(params=["local", "s3"])
def store(request):
    if request.param == "s3":
        request.getfixturevalue("s3_env")
        for each in (storage.archive_store(), storage.inbox_store(), storage.outbox_store()):
            each.ensure_ready()
    return request.param


@pytest.fixture
def world(db, steward, dac, applicant, tmp_path, settings):
    """A released BAM in the DAC's dataset, alice entitled, alice's archive visa and key."""
    settings.SIGNED_URL_TTL = 120
    bam = genomic_data.make_bam(tmp_path, reads_per_ref=200, unmapped=3)
    data = store_ready_file(submitter=steward, path=bam)
    dataset = release(dac=dac, steward=steward, files=[data])
    entitlement = entitle(applicant, dataset)
    [our_visa] = client_for(applicant).get("/api/permissions/alice").json()["ga4gh_passport_v1"]
    keys = ClientKeyPair(tmp_path, "alice")
    return {
        "file": data,
        "dataset": dataset,
        "entitlement": entitlement,
        "plain": bam.read_bytes(),
        "visa": our_visa,
        "keys": keys,
        "key": {"HTTP_X_C4GH_PUBLIC_KEY": keys.header_value},
    }


def link_to_alice(broker: Broker, sub: str = "x") -> str:
    return broker.visa(sub=sub, type_="LinkedIdentities", value=f"alice,{quote(OWN, safe='')}", by="system")


def linked_passport(a: Broker, world) -> str:
    """A's passport for x: A's link x = alice and alice's archive visa."""
    return a.passport([link_to_alice(a), world["visa"]], sub="x")


def granted(client) -> list[str]:
    response = client.get("/api/datasets")
    assert response.status_code == 200, response.content
    return sorted(d["accession"] for d in response.json())


def block(dac_member, dac, **body):
    with TestCase.captureOnCommitCallbacks(execute=True):
        made = client_for(dac_member).post(
            f"/api/dacs/{dac.accession}/blocks", {"reason": "Misuse.", **body}, format="json"
        )
    assert made.status_code == 201, made.content
    return made.json()


# --- LinkedIdentities chains -----------------------------------------------------------------------


def test_the_linked_passport_reads_alices_dataset(trusted, world):
    a, _ = trusted
    assert granted(bearer(APIClient(), linked_passport(a, world))) == [world["dataset"].accession]


def test_broker_without_link_identities_links_its_subject_to_as_subject_who_is_alice(trusted, world):
    """B (no link_identities) links y to x at A; A links x to alice: B reached alice through A."""
    a, b = trusted
    b_to_a = b.visa(sub="y", type_="LinkedIdentities", value=f"x,{quote(a.iss, safe='')}", by="system")
    token = b.passport([b_to_a, link_to_alice(a), world["visa"]], sub="y")
    assert granted(bearer(APIClient(), token)) == []


def test_broker_without_link_identities_presenting_as_link_and_alices_visa_gets_nothing(trusted, world):
    a, b = trusted
    token = b.passport([link_to_alice(a), world["visa"]], sub="y")
    response = bearer(APIClient(), token).get("/api/datasets")
    assert response.status_code in (200, 401), response.content
    assert response.status_code == 401 or response.json() == []


def test_broker_without_link_identities_linking_to_alice_itself_gets_nothing(trusted, world):
    _, b = trusted
    token = b.passport([link_to_alice(b, "y"), world["visa"]], sub="y")
    assert granted(bearer(APIClient(), token)) == []


def test_a_vouching_for_bs_subject_counts(trusted, world):
    """A (link_identities) says x at A is both y at B and alice: B's passport for y may use it."""
    a, b = trusted
    both = a.visa(
        sub="x",
        type_="LinkedIdentities",
        value=f"y,{quote(b.iss, safe='')};alice,{quote(OWN, safe='')}",
        by="system",
    )
    token = b.passport([both, world["visa"]], sub="y")
    assert granted(bearer(APIClient(), token)) == [world["dataset"].accession]


# --- blocks and revocations reach every path the linked passport opens -----------------------------


def _tokenless_links(client, world) -> dict:
    """The linked passport's DRS access URL, htsget ticket (header and body link) and export link."""
    acc, key = world["file"].accession, world["key"]
    drs = client.get(f"/ga4gh/drs/v1/objects/{acc}/access/c4gh", **key)
    assert drs.status_code == 200, drs.content
    ticket = client.get(f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH"}, **key)
    assert ticket.status_code == 200, ticket.content
    urls = ticket.json()["htsget"]["urls"]
    with TestCase.captureOnCommitCallbacks(execute=True):
        export = client.post("/api/exports", {"files": [acc]}, format="json", **key)
    assert export.status_code == 202, export.content
    done = client.get(f"/api/exports/{export.json()['id']}").json()
    assert done["status"] == "done", done
    return {
        "drs": drs.json()["url"],
        "header": base64.b64decode(urls[0]["url"].split(",", 1)[1]),
        "body": urls[1],
        "export": done["links"][0]["url"],
        "export_id": done["id"],
    }


def _links_serve(links, world, store="local"):
    decrypt = world["keys"].decrypt
    status, data, _ = fetch(links["drs"])
    assert status == 200 and decrypt(data) == world["plain"]
    status, data, body_presigned = fetch(links["body"]["url"], links["body"]["headers"])
    assert status == 206 and decrypt(links["header"] + data) == world["plain"]
    status, data, export_presigned = fetch(links["export"])
    assert status == 200 and decrypt(data) == world["plain"]
    if store == "s3":  # a fresh presigned URL per request, living at most SIGNED_URL_TTL (120 here)
        for url in (body_presigned, export_presigned):
            assert 0 < int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0]) <= 120, url


def _links_refused(links):
    for url, headers in ((links["drs"], {}), (links["body"]["url"], links["body"]["headers"]), (links["export"], {})):
        status, data, presigned = fetch(url, headers)
        assert status == 404, (url, status, data[:200])
        assert not presigned
        assert b'"error"' in data  # a JSON error, never a 500 or an HTML page


def _every_token_path_refused(client, world):
    acc, key, dataset = world["file"].accession, world["key"], world["dataset"].accession
    assert granted(client) == []
    for path, extra in (
        (f"/api/files/{acc}", {}),
        (f"/api/files/{acc}?start=0&end=1000", {}),
        (f"/api/files/{acc}/header", {}),
        (f"/api/files/{acc}/content", {"HTTP_RANGE": "bytes=0-99"}),
        (f"/api/datasets/{dataset}/files", {}),
        (f"/ga4gh/drs/v1/objects/{acc}", {}),
        (f"/ga4gh/drs/v1/objects/{acc}/access/c4gh", {}),
    ):
        response = client.get(path, **key, **extra)
        assert response.status_code == 404, (path, response.status_code, response.content[:200])
    ticket = client.get(f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH"}, **key)
    assert ticket.status_code == 404 and ticket.json()["htsget"]["error"] == "NotFound", ticket.content
    posted = client.post("/htsget/reads/" + acc, {"encryptionScheme": "C4GH"}, format="json", **key)
    assert posted.status_code == 404, posted.content
    for body in ({"files": [acc]}, {"dataset": dataset}):
        export = client.post("/api/exports", body, format="json", **key)
        assert export.status_code == 404, (body, export.content)


def _export_removed(links):
    export = Export.objects.get(pk=links["export_id"])
    assert export.status == Export.Status.REVOKED, export.status
    assert all(item.location == "" for item in export.items.all())


def test_blocking_alice_stops_her_linked_identity_at_another_broker_everywhere(store, trusted, world, dac, dac_member):
    a, _ = trusted
    client = bearer(APIClient(), linked_passport(a, world))
    links = _tokenless_links(client, world)
    location = Export.objects.get(pk=links["export_id"]).items.get().location
    _links_serve(links, world, store)

    block(dac_member, dac, user="alice")

    _every_token_path_refused(client, world)
    _links_refused(links)
    _export_removed(links)
    assert not storage.outbox_store().exists(location)


def test_revoking_alices_entitlement_stops_the_links_her_linked_identity_made(store, trusted, world, dac_member):
    """The links rested on alice's entitlement (through A's link), not on a broker's visa: a
    revocation counts at once, not when the passport expires."""
    a, _ = trusted
    client = bearer(APIClient(), linked_passport(a, world))
    links = _tokenless_links(client, world)
    with TestCase.captureOnCommitCallbacks(execute=True):
        revoked = client_for(dac_member).post(
            f"/api/entitlements/{world['entitlement'].pk}/revoke", {"reason": "Consent withdrawn."}, format="json"
        )
    assert revoked.status_code == 200, revoked.content
    _every_token_path_refused(client, world)
    _links_refused(links)
    _export_removed(links)


def test_alices_entitlement_running_out_stops_the_links_her_linked_identity_made(store, trusted, world):
    """The end date passed (before the beat marks it expired): the links stop at once."""
    from datetime import timedelta

    from django.utils import timezone

    a, _ = trusted
    client = bearer(APIClient(), linked_passport(a, world))
    links = _tokenless_links(client, world)
    _links_serve(links, world, store)
    world["entitlement"].end = timezone.now() - timedelta(seconds=1)
    world["entitlement"].save(update_fields=["end"])
    _links_refused(links)


def test_disabling_alice_stops_her_linked_identity_and_its_links(store, trusted, world, applicant):
    a, _ = trusted
    client = bearer(APIClient(), linked_passport(a, world))
    links = _tokenless_links(client, world)
    applicant.is_active = False
    applicant.save(update_fields=["is_active"])
    _every_token_path_refused(client, world)
    _links_refused(links)


def test_blocking_an_identity_linked_in_the_passport_stops_the_passport_and_its_links(trusted, world, dac, dac_member):
    """A vouches that x at A is y at B and alice; B's passport for y reads. Blocking x at A stops it."""
    a, b = trusted
    both = a.visa(
        sub="x", type_="LinkedIdentities", value=f"y,{quote(b.iss, safe='')};alice,{quote(OWN, safe='')}", by="system"
    )
    client = bearer(APIClient(), b.passport([both, world["visa"]], sub="y"))
    links = _tokenless_links(client, world)
    block(dac_member, dac, iss=a.iss, sub="x")
    _every_token_path_refused(client, world)
    _links_refused(links)
    _export_removed(links)


def test_blocking_a_brokers_identity_stops_a_link_made_by_another_token_naming_it(trusted, world, dac, dac_member):
    """B's own visa for y, in a passport of y linked (by B) to z at B: blocking z stops the links too."""
    _, b = trusted
    link = b.visa(sub="y", type_="LinkedIdentities", value=f"z,{quote(b.iss, safe='')}", by="system")
    visa = b.visa(sub="z", value=world["dataset"].url)
    client = bearer(APIClient(), b.passport([link, visa], sub="y"))
    links = _tokenless_links(client, world)
    _links_serve(links, world)
    block(dac_member, dac, iss=b.iss, sub="z")
    _every_token_path_refused(client, world)
    _links_refused(links)
    _export_removed(links)


def test_a_blocked_person_gets_no_visas_and_no_beacon_records(
    trusted,
    beacon_dataset,  # noqa: F811 (the fixture imported above)
    applicant,
    dac,
    dac_member,
):
    from tests.beacon.helpers import individuals

    a, _ = trusted
    entitle(applicant, beacon_dataset)
    [visa] = client_for(applicant).get("/api/permissions/alice").json()["ga4gh_passport_v1"]
    client = bearer(APIClient(), a.passport([link_to_alice(a), visa], sub="x"))
    assert individuals(client, granularity="record").json()["meta"]["returnedGranularity"] == "record"
    block(dac_member, dac, user="alice")
    body = individuals(client, granularity="record").json()
    assert body["meta"]["returnedGranularity"] != "record", body["meta"]
    assert all(not rs.get("results") for rs in body.get("response", {}).get("resultSets", [])), body
    assert client_for(applicant).get("/api/permissions/alice").json()["ga4gh_passport_v1"] == []


def test_blocking_an_identity_linked_to_alice_here_empties_her_permissions(world, applicant, dac, dac_member):
    from gdi_archive.accounts.models import ExternalIdentity

    ExternalIdentity.objects.create(user=applicant, issuer="https://login.example/oidc", subject="a1")
    assert client_for(applicant).get("/api/permissions/alice").json()["ga4gh_passport_v1"]
    block(dac_member, dac, iss="https://login.example/oidc", sub="a1")
    assert client_for(applicant).get("/api/permissions/alice").json()["ga4gh_passport_v1"] == []


# --- tokenless links: tampering, expiry, account state --------------------------------------------


def _forge(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    query.update({k: str(v) for k, v in changes.items()})
    return parts._replace(query="&".join(f"{k}={v}" for k, v in query.items())).geturl()


def test_a_changed_link_fails_its_signature_with_a_json_404(store, trusted, world, applicant, other_applicant):
    a, _ = trusted
    links = _tokenless_links(bearer(APIClient(), linked_passport(a, world)), world)
    body = links["body"]
    other = store_ready_file(submitter=applicant, path=world["keys"].pk_path)
    for changes in (
        {"user": other_applicant.pk},
        {"people": str(other_applicant.pk)},
        {"ids": ""},
        {"range": "0-999999999"},
        {"file": other.accession},
        {"expires": "9999999999"},
        {"signature": "0" * 64},
    ):
        status, data, presigned = fetch(_forge(body["url"], **changes), body["headers"])
        assert status == 404 and b'"error"' in data and not presigned, changes
    for changes in (
        {"export": "0" * 32},
        {"file": other.accession},
        {"expires": "9999999999"},
        {"signature": "0" * 64},
    ):
        status, data, _ = fetch(_forge(links["export"], **changes))
        assert status == 404 and b'"error"' in data, changes
    # The export link of one file does not open another file of the same export path.
    status, data, _ = fetch(links["export"].replace(world["file"].accession, other.accession))
    assert status == 404 and b'"error"' in data


def test_an_expired_link_is_a_json_404(store, trusted, world, settings, monkeypatch):
    import time as real_time

    a, _ = trusted
    links = _tokenless_links(bearer(APIClient(), linked_passport(a, world)), world)
    later = real_time.time() + 10 * 24 * 3600
    monkeypatch.setattr("gdi_archive.downloads.signing.time.time", lambda: later)
    for url, headers in ((links["drs"], {}), (links["body"]["url"], links["body"]["headers"]), (links["export"], {})):
        status, data, _ = fetch(url, headers)
        assert status == 404 and b'"error"' in data, (url, status, data[:200])


@pytest.mark.parametrize("linked_to_bob", [False, True])
def test_a_link_lives_no_longer_than_the_visas_it_rests_on(trusted, world, settings, other_applicant, linked_to_bob):
    """A link resting on a broker's visa (not an entitlement here) ends with that visa; B's link
    to an identity that bob signed in with does not make bob's entitlement carry it further."""
    import time

    from gdi_archive.accounts.models import ExternalIdentity

    _, b = trusted
    settings.SIGNED_URL_TTL = 3600
    visas = [b.visa(sub="y", value=world["dataset"].url, exp_in=90)]
    if linked_to_bob:
        entitle(other_applicant, world["dataset"])
        ExternalIdentity.objects.create(user=other_applicant, issuer="https://login.example/oidc", subject="bob1")
        link = quote("https://login.example/oidc", safe="")
        visas.append(b.visa(sub="y", type_="LinkedIdentities", value=f"bob1,{link}", by="system"))
    client = bearer(APIClient(), b.passport(visas, sub="y"))
    ticket = client.get(f"/htsget/reads/{world['file'].accession}", {"encryptionScheme": "C4GH"}, **world["key"])
    assert ticket.status_code == 200, ticket.content
    expires = int(parse_qs(urlsplit(ticket.json()["htsget"]["urls"][1]["url"]).query)["expires"][0])
    assert expires <= time.time() + 91


def test_a_token_that_grants_nothing_makes_no_link(trusted, world, other_applicant):
    """Bob (no grant) gets no ticket, no DRS URL and no export for alice's file: nothing to mint."""
    from tests.reliability.conftest import bearer_client

    bob = bearer_client(other_applicant)
    acc, key = world["file"].accession, world["key"]
    assert bob.get(f"/ga4gh/drs/v1/objects/{acc}/access/c4gh", **key).status_code == 404
    assert bob.get(f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH"}, **key).status_code == 404
    assert bob.post("/api/exports", {"files": [acc]}, content_type="application/json", **key).status_code == 404
    anonymous = APIClient()
    assert anonymous.get(f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH"}, **key).status_code == 401


# --- scope ------------------------------------------------------------------------------------------


@pytest.fixture
def scoped_b(brokers, dac):
    """B alone, trusted for the DAC's datasets from REMS's DAC path only."""
    _, b = brokers
    with override_settings(
        TRUSTED_ISSUERS=[b.trust_entry(grants={"dacs": [dac.accession]}, sources=["https://rems.example/dac"])]
    ):
        yield b


@pytest.mark.parametrize(
    "source",
    [
        "https://rems.example/dac/%2e%2e%2fevil",  # an encoded slash: decoded, it climbs out
        "https://rems.example/dac/%2E%2E%2Fevil",
        "https://rems.example/dac/..%5cevil",
        "https://rems.example/dac%2f1",  # not a whole segment unless decoded
        "https://rems.example./dac",  # trailing dot host
        "https://rems.example:443/dac",
        "https://rems.example:8443/dac",
        "http://rems.example/dac",
        "HTTPS://rems.example/dac/1",
        "https://user@rems.example/dac",
        "https://rems.example@evil.example/dac",
        "https://rems.example/dac#frag",
        "https://rems.example/dac-evil",
        "//rems.example/dac",
        "",
    ],
)
def test_sources_prefix_tricks_open_nothing(api, scoped_b, world, source):
    token = scoped_b.passport([scoped_b.visa(sub="y", value=world["dataset"].url, source=source)], sub="y")
    assert granted(bearer(api, token)) == []


def test_grants_dacs_open_only_released_datasets_of_that_dac(api, scoped_b, world, dac, other_dac):
    from tests.passports.conftest import make_dataset

    draft = make_dataset(dac, title="Draft", status="draft")
    withdrawn = make_dataset(dac, title="Withdrawn", status="withdrawn")
    foreign = make_dataset(other_dac, title="Elsewhere")
    visas = [
        scoped_b.visa(sub="y", value=d.url, source="https://rems.example/dac/1")
        for d in (world["dataset"], draft, withdrawn, foreign)
    ]
    client = bearer(api, scoped_b.passport(visas, sub="y"))
    assert granted(client) == [world["dataset"].accession]
    for acc in (draft.accession, withdrawn.accession, foreign.accession):
        assert client.get(f"/api/datasets/{acc}/files").status_code == 404


def test_a_controlled_access_grant_without_by_opens_nothing(api, brokers, dac, world):
    _, b = brokers
    with override_settings(TRUSTED_ISSUERS=[b.trust_entry(grants={"dacs": [dac.accession]}, by=["dac", "self"])]):
        for by in (None, ""):
            visa = b.visa(sub="y", value=world["dataset"].url, by=by)
            response = bearer(APIClient(), b.passport([visa], sub="y")).get("/api/datasets")
            assert response.status_code in (200, 401), response.content
            assert response.status_code == 401 or response.json() == [], by
        import time

        from tests.passports.conftest import VISA_TYP

        now = int(time.time())
        no_by = {"type": "ControlledAccessGrants", "asserted": now - 60, "value": world["dataset"].url, "source": b.url}
        claims = {"iss": b.iss, "sub": "y", "iat": now, "exp": now + 600, "jti": "no-by", "ga4gh_visa_v1": no_by}
        visa = b.sign(claims, typ=VISA_TYP)  # no "by" key at all
        response = bearer(APIClient(), b.passport([visa], sub="y")).get("/api/datasets")
        assert response.status_code == 401 or response.json() == [], response.content


def test_huge_passports_are_refused_quickly_with_a_4xx(api, scoped_b, world):
    import time

    many = [
        scoped_b.visa(sub="y", value=f"http://testserver/datasets/GDID{n:011d}", source="https://rems.example/dac")
        for n in range(40)
    ]
    for token in (
        scoped_b.passport(many, sub="y"),  # as many visas as fit
        scoped_b.passport(many * 2, sub="y"),  # over the size limit
        "a" * (2 * 1024 * 1024),  # two megabytes of nothing
        scoped_b.passport(many[:1], sub="y") + "." + "A" * 40000,
    ):
        started = time.monotonic()
        response = bearer(APIClient(), token).get("/api/datasets")
        assert response.status_code in (200, 400, 401, 413), response.status_code
        if response.status_code == 200:
            assert response.json() == []
        else:
            assert response.json()["error"]
        assert time.monotonic() - started < 5


def test_a_passport_linking_hundreds_of_identities_is_401(api, scoped_b, world):
    """Each visa's value stays under the 8 KiB limit; together they link 600 identities."""
    import time

    links = [
        scoped_b.visa(
            sub="y",
            type_="LinkedIdentities",
            value=";".join(f"p{n}-{m},{quote('http://e', safe='')}" for m in range(150)),
            by="system",
        )
        for n in range(4)
    ]
    started = time.monotonic()
    response = bearer(api, scoped_b.passport(links, sub="y")).get("/api/datasets")
    assert response.status_code == 401 and response.json()["error"], response.content
    assert time.monotonic() - started < 5


# --- our own tokens ---------------------------------------------------------------------------------


def test_our_own_token_follows_live_entitlements_and_obeys_blocks(world, applicant, dac, dac_member):
    from tests.reliability.conftest import bearer_client

    token = bearer_client(applicant)
    assert granted(token) == [world["dataset"].accession]
    made = block(dac_member, dac, user="alice")
    assert granted(token) == []
    assert token.get(f"/api/files/{world['file'].accession}", **world["key"]).status_code == 404
    client_for(dac_member).delete(f"/api/dacs/{dac.accession}/blocks/{made['id']}")
    assert granted(token) == [world["dataset"].accession]
    with TestCase.captureOnCommitCallbacks(execute=True):
        client_for(dac_member).post(f"/api/entitlements/{world['entitlement'].pk}/revoke", {}, format="json")
    assert granted(token) == []

"""Passports and access tokens from other brokers, and the attack corpus (each case its own test)."""

import base64
import hashlib
import hmac
import json
import logging
import time
from urllib.parse import quote

import jwt as pyjwt
import pytest
from django.test import override_settings

from gdi_archive.accounts.models import ExternalIdentity
from gdi_archive.passports import keys, services
from tests.conftest import client_for
from tests.passports.conftest import Broker, bearer, grant, mint


def get_datasets(api, token):
    return bearer(api, token).get("/api/datasets")


def granted(api, token) -> list[str]:
    response = get_datasets(api, token)
    assert response.status_code == 200, response.content
    return [d["accession"] for d in response.json()]


def assert_refused(api, token, caplog=None, reason=None):
    with caplog.at_level(logging.WARNING, logger="gdi_archive.passports.clearinghouse") if caplog else _null():
        response = get_datasets(api, token)
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["error"] == "Unauthorized" and set(body) == {"error", "detail"}
    if caplog is not None and reason is not None:
        messages = " ".join(r.getMessage() for r in caplog.records)
        assert reason in messages, messages
        assert token[:60] not in messages  # the token itself is never logged


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def own_signed(claims: dict, *, typ="vnd.ga4gh.passport+jwt", **header) -> str:
    """A token signed with the archive's real key (as if the claims were ours)."""
    key = keys.current_key()
    pem = key.path.read_bytes()
    headers = {"typ": typ, "kid": key.kid, "jku": keys.jwks_url(), **header}
    return pyjwt.encode(claims, pem, algorithm=key.alg, headers=headers)


@pytest.fixture
def alice_token(applicant, dataset):
    grant(applicant, dataset)
    return mint(client_for(applicant))


def passport_claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


# --- trusted and untrusted brokers -----------------------------------------------------------


def test_rems_style_visa_from_trusted_issuer_grants(api, trusted_broker, dataset, other_dataset):
    visa = trusted_broker.visa(value=dataset.url)
    bare = trusted_broker.visa(value=other_dataset.accession)
    token = trusted_broker.passport([visa, bare])
    assert granted(api, token) == sorted([dataset.accession, other_dataset.accession])
    link = ExternalIdentity.objects.get(issuer=trusted_broker.iss, subject="alice@broker")
    assert not link.user.has_usable_password()
    # Same subject again: the same local user, and the JWKS was fetched once.
    assert granted(api, trusted_broker.passport([visa])) == [dataset.accession]
    assert ExternalIdentity.objects.filter(issuer=trusted_broker.iss).count() == 1
    assert trusted_broker.requests.count("/jwks") == 1


def test_same_visa_from_untrusted_issuer_grants_nothing(api, trusted_broker, dataset):
    stranger = Broker()
    try:
        visa = stranger.visa(value=dataset.url)  # signed correctly, by an issuer nobody listed
        assert granted(api, trusted_broker.passport([visa])) == []
        assert stranger.requests == []  # its jku was never fetched
    finally:
        stranger.server_close()


def test_passport_from_untrusted_broker_is_refused(api, broker, dataset, caplog):
    token = broker.passport([broker.visa(value=dataset.url)])
    assert_refused(api, token, caplog, "not trusted")
    assert broker.requests == []


def test_visas_we_do_not_rely_on_are_ignored(api, trusted_broker, dataset):
    now = int(time.time())
    with_conditions = trusted_broker.sign(
        {
            "iss": trusted_broker.iss,
            "sub": "alice@broker",
            "iat": now,
            "exp": now + 600,
            "ga4gh_visa_v1": {
                "type": "ControlledAccessGrants",
                "asserted": now,
                "value": dataset.url,
                "source": "https://dac.example",
                "by": "dac",
                "conditions": [[{"type": "AffiliationAndRole", "value": "const:faculty@uni.example"}]],
            },
        },
        typ="vnd.ga4gh.visa+jwt",
    )
    visas = [
        with_conditions,
        trusted_broker.visa(type_="https://example.org/custom-type", value=dataset.url),
        trusted_broker.visa(value="http://testserver/datasets/GDID99999999999"),  # not held here
        trusted_broker.visa(value="https://elsewhere.example/datasets/" + dataset.accession),
        trusted_broker.visa(value=dataset.url, by=None),  # ControlledAccessGrants must say by whom
    ]
    assert granted(api, trusted_broker.passport(visas)) == []


def test_our_own_visa_passed_on_by_a_broker_needs_a_live_entitlement(
    api, trusted_broker, applicant, dataset, dac, dac_member
):
    entitlement = grant(applicant, dataset, granted_by=dac_member)
    [our_visa] = client_for(applicant).get("/api/permissions/alice").json()["ga4gh_passport_v1"]
    link = trusted_broker.visa(
        type_="LinkedIdentities",
        value=f"alice,{quote('http://testserver', safe='')}",
        source=trusted_broker.iss,
        by="system",
    )
    token = trusted_broker.passport([our_visa, link])
    # The broker may link its subjects to our users (link_identities), so alice's visa counts.
    entry = trusted_broker.trust_entry(grants={"dacs": [dac.accession]}, link_identities=True)
    with override_settings(TRUSTED_ISSUERS=[entry]):
        assert granted(api, token) == [dataset.accession]
        client_for(dac_member).post(f"/api/entitlements/{entitlement.pk}/revoke", {}, format="json")
        assert granted(api, token) == []


def test_visa_of_another_identity_needs_linked_identities(api, trusted_broker, dataset, caplog):
    visa = trusted_broker.visa(sub="alice-at-rems", value=dataset.url)
    assert_refused(api, trusted_broker.passport([visa]), caplog, "not linked")
    link = trusted_broker.visa(
        type_="LinkedIdentities",
        by="system",
        source=trusted_broker.iss,
        value=f"alice-at-rems,{quote(trusted_broker.iss, safe='')}",
    )
    assert granted(api, trusted_broker.passport([visa, link])) == [dataset.accession]


def test_broker_access_token_through_userinfo_is_cached(api, trusted_broker, dataset):
    now = int(time.time())
    access = trusted_broker.sign(
        {
            "iss": trusted_broker.iss,
            "sub": "alice@broker",
            "iat": now,
            "exp": now + 600,
            "scope": "openid ga4gh_passport_v1",
        },
        typ="at+jwt",
        jku=None,
    )
    trusted_broker.userinfo[access] = {
        "sub": "alice@broker",
        "ga4gh_passport_v1": [trusted_broker.visa(value=dataset.url)],
    }
    assert granted(api, access) == [dataset.accession]
    assert granted(api, access) == [dataset.accession]
    assert trusted_broker.requests.count("/userinfo") == 1


def test_opaque_access_token_goes_only_to_the_one_broker(api, trusted_broker, dataset):
    trusted_broker.userinfo["opaque-token-123"] = {
        "sub": "alice@broker",
        "ga4gh_passport_v1": [trusted_broker.visa(value=dataset.url)],
    }
    assert granted(api, "opaque-token-123") == [dataset.accession]
    assert get_datasets(api, "opaque-token-unknown").status_code == 401


def test_userinfo_subject_must_match_the_access_token(api, trusted_broker, dataset):
    now = int(time.time())
    access = trusted_broker.sign(
        {
            "iss": trusted_broker.iss,
            "sub": "alice@broker",
            "iat": now,
            "exp": now + 600,
            "scope": "openid ga4gh_passport_v1",
        },
        typ="at+jwt",
        jku=None,
    )
    trusted_broker.userinfo[access] = {
        "sub": "mallory@broker",
        "ga4gh_passport_v1": [trusted_broker.visa(sub="mallory@broker", value=dataset.url)],
    }
    assert get_datasets(api, access).status_code == 401


def test_unknown_kids_do_not_hammer_the_broker(api, trusted_broker, dataset):
    assert granted(api, trusted_broker.passport([])) == []
    for n in range(5):
        token = trusted_broker.passport([], kid=f"made-up-{n}")
        assert get_datasets(api, token).status_code == 401
    assert trusted_broker.requests.count("/jwks") <= 2


# --- the attack corpus: each refused with 401, none returns data -----------------------------


def test_attack_alg_none(api, alice_token, caplog):
    header, payload, _ = alice_token.split(".")
    forged_header = b64(json.dumps({"alg": "none", "typ": "vnd.ga4gh.passport+jwt"}).encode())
    assert_refused(api, f"{forged_header}.{payload}.", caplog)
    assert_refused(api, f"{forged_header}.{payload}.c2ln", caplog, "not allowed")


def test_attack_hs256_with_our_public_key_as_secret(api, alice_token, caplog):
    from cryptography.hazmat.primitives import serialization

    public_pem = (
        keys.current_key()
        .public.get_op_key("verify")
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    claims = passport_claims(alice_token)
    header = b64(json.dumps({"alg": "HS256", "typ": "vnd.ga4gh.passport+jwt", "kid": keys.current_key().kid}).encode())
    body = b64(json.dumps(claims).encode())
    signature = b64(hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest())
    assert_refused(api, f"{header}.{body}.{signature}", caplog, "HS256")


def test_attack_expired(api, alice_token, caplog):
    claims = passport_claims(alice_token)
    claims.update(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    assert_refused(api, own_signed(claims), caplog, "expired")


def test_attack_expired_visa(api, trusted_broker, dataset, caplog):
    token = trusted_broker.passport([trusted_broker.visa(value=dataset.url, exp_in=-600)])
    assert_refused(api, token, caplog, "visa has expired")


def test_attack_iat_in_the_future(api, alice_token, caplog):
    claims = passport_claims(alice_token)
    claims.update(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)
    assert_refused(api, own_signed(claims), caplog, "future")


def test_attack_visa_iat_in_the_future(api, trusted_broker, dataset, caplog):
    token = trusted_broker.passport([trusted_broker.visa(value=dataset.url, iat_shift=3600, exp_in=7200)])
    assert_refused(api, token, caplog, "future")


def test_attack_wrong_iss(api, alice_token, caplog):
    claims = passport_claims(alice_token)
    claims["iss"] = "https://evil.example"
    assert_refused(api, own_signed(claims), caplog, "not trusted")


def test_attack_jku_not_trusted(api, trusted_broker, dataset, caplog):
    visa = trusted_broker.visa(value=dataset.url, jku="https://evil.example/jwks.json")
    assert_refused(api, trusted_broker.passport([visa]), caplog, "not the one trusted")
    assert trusted_broker.requests == ["/jwks"]  # only the passport's own (listed) jku was read


def test_attack_jku_not_trusted_on_our_passport(api, alice_token, caplog):
    claims = passport_claims(alice_token)
    assert_refused(api, own_signed(claims, jku="https://evil.example/jwks.json"), caplog, "not the one trusted")


def test_attack_unknown_kid(api, alice_token, caplog):
    claims = passport_claims(alice_token)
    assert_refused(api, own_signed(claims, kid="no-such-key"), caplog, "unknown kid")


def test_attack_tampered_payload(api, alice_token, other_dataset, caplog):
    header, payload, signature = alice_token.split(".")
    claims = passport_claims(alice_token)
    claims["sub"] = "bob"
    assert_refused(api, f"{header}.{b64(json.dumps(claims).encode())}.{signature}", caplog, "bad signature")


def test_attack_tampered_visa(api, trusted_broker, dataset, other_dataset, caplog):
    visa = trusted_broker.visa(value=dataset.url)
    header, payload, signature = visa.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["ga4gh_visa_v1"]["value"] = other_dataset.url
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert_refused(api, trusted_broker.passport([forged]), caplog, "bad signature")


def test_attack_visa_sub_not_matching_the_passport(api, trusted_broker, dataset, caplog):
    visa = trusted_broker.visa(sub="mallory@broker", value=dataset.url)
    assert_refused(api, trusted_broker.passport([visa], sub="alice@broker"), caplog, "not linked")


def test_attack_our_visa_for_someone_else(api, applicant, other_applicant, dataset, caplog):
    grant(other_applicant, dataset)
    [bobs_visa] = client_for(other_applicant).get("/api/permissions/bob").json()["ga4gh_passport_v1"]
    claims = {
        "iss": "http://testserver",
        "sub": "alice",
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
        "jti": "x",
        "ga4gh_passport_v1": [bobs_visa],
    }
    assert_refused(api, own_signed(claims), caplog, "not linked")


@pytest.mark.parametrize(
    "garbage", ["garbage", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30.", "\u00e9t\u00e9.x.y", "a" * 3000]
)
def test_attack_garbage(api, db, garbage, caplog):
    assert_refused(api, garbage, caplog)


def test_attack_oversized(api, alice_token, caplog):
    token = alice_token + "A" * (40 * 1024)
    assert_refused(api, token, caplog, "too large")


def test_attack_malformed_base64(api, alice_token, caplog):
    header, payload, signature = alice_token.split(".")
    assert_refused(api, f"{header}.{payload}=.{signature}", caplog, "base64")
    assert_refused(api, f"{header}.{payload[:-1]}.{signature}", caplog)
    assert_refused(api, f"{header}.{payload}.{signature}+/", caplog, "base64")


def test_attack_encrypted_or_extra_parts(api, alice_token, caplog):
    assert_refused(api, alice_token + ".AAAA.BBBB", caplog, "compact JWS")


def test_attack_jku_pointing_at_an_internal_address(api, trusted_broker, dataset, connection_recorder, caplog):
    internal = f"http://127.0.0.1:{connection_recorder.port}/jwks"
    visa = trusted_broker.visa(value=dataset.url, jku=internal)
    assert_refused(api, trusted_broker.passport([visa]), caplog, "not the one trusted")
    metadata = trusted_broker.visa(value=dataset.url, jku="http://169.254.169.254/latest/meta-data/")
    started = time.monotonic()
    assert_refused(api, trusted_broker.passport([metadata]), caplog, "not the one trusted")
    assert time.monotonic() - started < 2  # refused before any connection attempt
    # An internal jku on the passport itself, with an issuer that is not listed.
    evil = trusted_broker.passport([], iss="http://127.0.0.1:1/evil", jku=internal)
    assert_refused(api, evil, caplog, "not trusted")
    assert connection_recorder.connections == 0


def test_attack_trusted_hostname_resolving_to_an_internal_address(api, broker, dataset, caplog):
    """A listed jku whose host name resolves to an internal address is not fetched (DNS tricks);
    only a jku that names the internal address literally counts as the operator's choice."""
    import socket

    name = socket.gethostname()
    assert socket.gethostbyname(name).startswith("127.")
    jku = f"http://{name}:{broker.server_address[1]}/jwks"
    with override_settings(TRUSTED_ISSUERS=[broker.trust_entry(jku=jku)]):
        token = broker.passport([], jku=jku)
        assert_refused(api, token, caplog, "internal address")
    assert broker.requests == []


def test_attack_revoked_token_reused(api, applicant, dataset):
    grant(applicant, dataset)
    token, saved = services.mint_passport_token(user=applicant)
    services.revoke_passport_token(user=applicant, token_id=saved.pk)
    assert get_datasets(api, token).status_code == 401


def test_attack_token_signed_by_us_but_never_issued(api, applicant, dataset):
    grant(applicant, dataset)
    [visa] = client_for(applicant).get("/api/permissions/alice").json()["ga4gh_passport_v1"]
    claims = {
        "iss": "http://testserver",
        "sub": "alice",
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
        "jti": "never-issued",
        "ga4gh_passport_v1": [visa],
    }
    assert get_datasets(api, own_signed(claims)).status_code == 401


def test_passport_for_another_audience_is_refused(api, trusted_broker, dataset, caplog):
    now = int(time.time())
    visa = trusted_broker.visa(value=dataset.url)
    claims = {
        "iss": trusted_broker.iss,
        "sub": "alice@broker",
        "iat": now,
        "exp": now + 600,
        "ga4gh_passport_v1": [visa],
    }
    assert_refused(
        api,
        trusted_broker.sign({**claims, "aud": "https://other-service.example"}, typ="vnd.ga4gh.passport+jwt"),
        caplog,
        "audience",
    )
    ours = trusted_broker.sign(
        {**claims, "aud": ["https://other-service.example", "http://testserver"]}, typ="vnd.ga4gh.passport+jwt"
    )
    assert granted(api, ours) == [dataset.accession]


def test_es256_broker_and_algorithm_pinned_to_the_key(api, broker, dac, dataset, caplog):
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(pyjwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    broker.public_jwks = lambda: {"keys": [{**jwk, "kid": "ec-1", "use": "sig"}]}
    with override_settings(TRUSTED_ISSUERS=[broker.trust_entry(grants={"dacs": [dac.accession]})]):
        visa = broker.visa(value=dataset.url, kid="ec-1", key=ec_key, alg="ES256")
        token = broker.passport([visa], kid="ec-1", key=ec_key, alg="ES256")
        assert granted(api, token) == [dataset.accession]
        # The same kid claimed with RS256 (signed by the broker's RSA key) must not pass.
        confused = broker.passport([visa], kid="ec-1")
        assert_refused(api, confused, caplog, "does not match the key")


def test_refusals_and_grants_are_counted_for_metrics(api, trusted_broker, dataset):
    from gdi_archive.operations import metrics

    def value(counter, **labels):
        return counter.labels(**labels)._value.get()

    valid, signature = value(metrics.VISA_VALIDATIONS, result="valid"), value(metrics.VISA_FAILURES, reason="signature")
    assert granted(api, trusted_broker.passport([trusted_broker.visa(value=dataset.url)])) == [dataset.accession]
    header, payload, sig = trusted_broker.visa(value=dataset.url).split(".")
    get_datasets(api, trusted_broker.passport([f"{header}.{payload}.{sig[:-4]}AAAA"]))
    assert value(metrics.VISA_VALIDATIONS, result="valid") == valid + 1
    assert value(metrics.VISA_FAILURES, reason="signature") == signature + 1

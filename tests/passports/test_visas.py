"""Our visas and JWKS, checked with PyJWT (a generic library) against the published JWKS alone."""

import time
from datetime import timedelta

import jwt as pyjwt
import pytest
from django.test import override_settings
from django.utils import timezone

from gdi_archive.access.models import TermsAcceptance
from gdi_archive.passports import services
from tests.conftest import client_for
from tests.passports.conftest import grant


def verify_with_jwks(api, token: str, *, typ: str) -> dict:
    """Verify a token the way any outside clearinghouse would: its kid in our JWKS, nothing else."""
    jwks = pyjwt.PyJWKSet.from_dict(api.get("/.well-known/jwks.json").json())
    header = pyjwt.get_unverified_header(token)
    assert header["typ"] == typ
    assert header["jku"] == "http://testserver/.well-known/jwks.json"
    key = next(k for k in jwks.keys if k.key_id == header["kid"])
    return pyjwt.decode(token, key=key.key, algorithms=[header["alg"]], options={"verify_aud": False})


def test_jwks_publishes_public_keys_only(api, db):
    from gdi_archive.passports import keys

    keys.ensure_signing_keys()
    response = api.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["alg"] == "RS256" and "d" not in k and k["kid"] for k in keys)


def test_permissions_visas_verify_with_a_generic_library(api, applicant, dataset, dac_member):
    entitlement = grant(applicant, dataset, granted_by=dac_member)
    TermsAcceptance.objects.create(user=applicant, dataset=dataset, version=dataset.terms_version)
    applicant.bona_fide_confirmed_at = timezone.now() - timedelta(days=1)
    applicant.save()

    response = client_for(applicant).get("/api/permissions/alice")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    visas = [verify_with_jwks(api, v, typ="vnd.ga4gh.visa+jwt") for v in response.json()["ga4gh_passport_v1"]]
    by_type = {v["ga4gh_visa_v1"]["type"]: v for v in visas}
    assert set(by_type) == {"ControlledAccessGrants", "AcceptedTermsAndPolicies", "ResearcherStatus"}
    cag = by_type["ControlledAccessGrants"]
    assert cag["iss"] == "http://testserver" and cag["sub"] == "alice" and cag["jti"]
    assert cag["iat"] <= time.time() < cag["exp"] <= entitlement.end.timestamp()
    assert cag["ga4gh_visa_v1"] == {
        "type": "ControlledAccessGrants",
        "value": f"http://testserver/datasets/{dataset.accession}",
        "source": f"http://testserver/dacs/{dataset.dac.accession}",
        "by": "dac",
        "asserted": int(entitlement.granted_at.timestamp()),
    }
    assert by_type["AcceptedTermsAndPolicies"]["ga4gh_visa_v1"]["by"] == "self"
    assert by_type["AcceptedTermsAndPolicies"]["ga4gh_visa_v1"]["value"] == dataset.terms_url
    assert by_type["ResearcherStatus"]["ga4gh_visa_v1"]["by"] == "so"


def test_visa_expires_no_later_than_the_entitlement(api, applicant, dataset):
    entitlement = grant(applicant, dataset)
    entitlement.end = timezone.now() + timedelta(minutes=10)
    entitlement.save()
    [visa] = client_for(applicant).get("/api/permissions/alice").json()["ga4gh_passport_v1"]
    assert verify_with_jwks(api, visa, typ="vnd.ga4gh.visa+jwt")["exp"] <= entitlement.end.timestamp()


def test_revoked_and_ended_entitlements_give_no_visa(applicant, dataset, other_dataset):
    grant(applicant, dataset).__class__.objects.filter(dataset=dataset).update(status="revoked")
    grant(applicant, other_dataset, start=timezone.now() + timedelta(days=1))
    assert client_for(applicant).get("/api/permissions/alice").json() == {"ga4gh_passport_v1": []}


def test_permissions_of_someone_else_are_not_found(applicant, other_applicant, dataset):
    grant(other_applicant, dataset)
    response = client_for(applicant).get("/api/permissions/bob")
    assert response.status_code == 404 and response.json()["error"] == "NotFound"
    assert client_for(applicant).get("/api/permissions/nobody").status_code == 404


def test_permissions_need_someone_asking(api, applicant):
    response = api.get("/api/permissions/alice")
    assert response.status_code == 401 and response.json()["error"] == "Unauthorized"
    response = api.get("/api/permissions/alice", HTTP_X_API_KEY="gdik_made-up")
    assert response.status_code == 401


def test_a_bearer_token_cannot_read_permissions(api, applicant):
    token = services.mint_passport_token(user=applicant)[0]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/permissions/alice").status_code == 401


def test_broker_key_made_in_the_admin_reads_any_user(api, admin_user, applicant, dataset):
    from gdi_archive.passports.models import BrokerApiKey

    grant(applicant, dataset)
    admin = client_for(admin_user)
    response = admin.post("/admin/passports/brokerapikey/add/", {"name": "LS-AAI broker"}, follow=True)
    assert response.status_code == 200
    message = next(str(m) for m in response.context["messages"] if "API key" in str(m))
    key = message.split(" is ")[1].split(" ")[0]
    saved = BrokerApiKey.objects.get(name="LS-AAI broker")
    assert key.startswith(saved.key_prefix) and key not in saved.key_sha256  # only a hash is kept

    response = api.get("/api/permissions/alice", HTTP_X_REMS_API_KEY=key)
    assert response.status_code == 200 and len(response.json()["ga4gh_passport_v1"]) == 1
    assert api.get("/api/permissions/nobody", HTTP_X_API_KEY=key).status_code == 404

    BrokerApiKey.objects.filter(pk=saved.pk).update(revoked_at=timezone.now())
    assert api.get("/api/permissions/alice", HTTP_X_API_KEY=key).status_code == 401


@pytest.mark.parametrize("algorithm,kty", [("ES256", "EC"), ("RS256", "RSA")])
def test_rotation_keeps_issued_tokens_valid(api, applicant, dataset, algorithm, kty, tmp_path, settings):
    from django.core.management import call_command

    from gdi_archive.passports import keys

    settings.KEYS_DIR = tmp_path / "keys"
    settings.VISA_SIGNING_ALGORITHM = algorithm
    keys.ensure_signing_keys()
    grant(applicant, dataset)
    old_token = services.mint_passport_token(user=applicant)[0]
    old_kid = pyjwt.get_unverified_header(old_token)["kid"]
    call_command("rotate_signing_key")

    published = api.get("/.well-known/jwks.json").json()["keys"]
    assert len(published) == 2 and {k["kty"] for k in published} == {kty}
    new_token = services.mint_passport_token(user=applicant)[0]
    assert pyjwt.get_unverified_header(new_token)["kid"] != old_kid
    assert pyjwt.get_unverified_header(new_token)["alg"] == algorithm
    for token in (old_token, new_token):
        verify_with_jwks(api, token, typ="vnd.ga4gh.passport+jwt")
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert [d["accession"] for d in api.get("/api/datasets").json()] == [dataset.accession]


def test_rotation_retires_keys_only_after_their_tokens_expired(tmp_path, settings):
    from datetime import UTC, datetime

    from gdi_archive.passports import keys

    settings.KEYS_DIR = tmp_path / "keys"
    first = keys.ensure_signing_keys()
    second, retired = keys.rotate()
    assert retired == [] and [k.kid for k in keys.signing_keys()] == [second.kid, first.kid]
    later = datetime.now(UTC) + timedelta(seconds=keys.max_token_lifetime() + 120)
    third, retired = keys.rotate(now=later)
    assert [p.name for p in retired] == [first.path.name]
    assert [k.kid for k in keys.signing_keys()] == [third.kid, second.kid]


def test_production_never_generates_keys(tmp_path, settings):
    from django.core.exceptions import ImproperlyConfigured

    from gdi_archive.passports import keys

    settings.KEYS_DIR = tmp_path / "none"
    with override_settings(PRODUCTION=True), pytest.raises(ImproperlyConfigured):
        keys.ensure_signing_keys()
    assert not (tmp_path / "none").exists()


def test_rotation_with_configured_key_files(api, applicant, dataset, tmp_path, settings):
    """Production style: the command writes a new key; listed first, it signs; the old one still verifies."""
    from io import StringIO

    from django.core.management import call_command

    from gdi_archive.passports import keys

    old = keys.write_new_key(tmp_path, "RS256")
    settings.VISA_SIGNING_KEY_FILES = [str(old)]
    grant(applicant, dataset)
    old_token = services.mint_passport_token(user=applicant)[0]
    out = StringIO()
    call_command("rotate_signing_key", "--out", str(tmp_path / "new"), stdout=out)
    new = next((tmp_path / "new").glob("*.pem"))
    assert str(new) in out.getvalue() and oct(new.stat().st_mode & 0o777) == "0o600"
    settings.VISA_SIGNING_KEY_FILES = [str(new), str(old)]
    new_token = services.mint_passport_token(user=applicant)[0]
    assert len(api.get("/.well-known/jwks.json").json()["keys"]) == 2
    for token in (old_token, new_token):
        verify_with_jwks(api, token, typ="vnd.ga4gh.passport+jwt")
    assert pyjwt.get_unverified_header(new_token)["kid"] == keys.signing_keys()[0].kid

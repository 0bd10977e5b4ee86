"""POST /api/tokens and passport tokens on the API: minting, limits, revocation at once."""

import base64

import jwt as pyjwt
from django.test import override_settings

from gdi_archive.passports.models import PassportToken
from tests.conftest import PASSWORD, client_for
from tests.passports.conftest import bearer, grant, mint


def accessions(api) -> list[str]:
    response = api.get("/api/datasets")
    assert response.status_code == 200, response.content
    return [d["accession"] for d in response.json()]


def test_minted_token_opens_granted_datasets_only(api, applicant, dataset, other_dataset):
    grant(applicant, dataset)
    response = client_for(applicant).post("/api/tokens", {}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_at"]
    assert "no-store" in response["Cache-Control"] and response["Pragma"] == "no-cache"
    claims = pyjwt.decode(body["token"], options={"verify_signature": False})
    assert claims["iss"] == "http://testserver" and claims["sub"] == "alice" and len(claims["ga4gh_passport_v1"]) == 1
    assert pyjwt.get_unverified_header(body["token"])["typ"] == "vnd.ga4gh.passport+jwt"
    assert accessions(bearer(api, body["token"])) == [dataset.accession]


def test_token_is_never_stored(applicant, dataset):
    grant(applicant, dataset)
    token = mint(client_for(applicant))
    saved = PassportToken.objects.get(user=applicant)
    stored = " ".join(str(v) for v in PassportToken.objects.values().get(pk=saved.pk).values())
    assert token not in stored and token.split(".")[2] not in stored
    from gdi_archive.audit.models import AuditEvent

    event = AuditEvent.objects.get(action="passport.token.minted")
    assert token not in str(event.details) and event.details["jti"] == saved.jti


def test_lifetime_is_bounded(applicant):
    client = client_for(applicant)
    with override_settings(PASSPORT_TOKEN_MAX_AGE=600):
        response = client.post("/api/tokens", {"lifetime": 601}, format="json")
        assert response.status_code == 400 and response.json()["error"] == "InvalidInput"
        assert client.post("/api/tokens", {"lifetime": "soon"}, format="json").status_code == 400
        assert client.post("/api/tokens", {"lifetime": 10}, format="json").status_code == 400
        response = client.post("/api/tokens", {"lifetime": 300}, format="json")
        assert response.status_code == 201
        claims = pyjwt.decode(response.json()["token"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 300


def test_http_basic_with_a_local_password(api, applicant, dataset):
    grant(applicant, dataset)
    good = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    bad = base64.b64encode(b"alice:wrong-password").decode()
    api.credentials(HTTP_AUTHORIZATION=f"Basic {bad}")
    assert api.post("/api/tokens", {}, format="json").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Basic {good}")
    response = api.post("/api/tokens", {}, format="json")
    assert response.status_code == 201
    assert accessions(bearer(api, response.json()["token"])) == [dataset.accession]


def test_nobody_and_bearer_tokens_cannot_mint(api, applicant):
    assert api.post("/api/tokens", {}, format="json").status_code == 401
    token = mint(client_for(applicant))
    assert bearer(api, token).post("/api/tokens", {}, format="json").status_code == 401


def test_revoked_token_is_refused_at_once(api, applicant, dataset):
    grant(applicant, dataset)
    client = client_for(applicant)
    token = mint(client)
    assert accessions(bearer(api, token)) == [dataset.accession]
    saved = PassportToken.objects.get(user=applicant)
    response = client.post("/account/tokens", {"action": "revoke", "token": saved.pk})
    assert response.status_code == 200
    response = bearer(api, token).get("/api/datasets")
    assert response.status_code == 401 and response.json()["error"] == "Unauthorized"


def test_entitlement_revocation_takes_effect_at_once(api, applicant, dataset, other_dataset, dac_member):
    entitlement = grant(applicant, dataset, granted_by=dac_member)
    grant(applicant, other_dataset, granted_by=dac_member)
    token = mint(client_for(applicant))
    assert accessions(bearer(api, token)) == sorted([dataset.accession, other_dataset.accession])
    response = client_for(dac_member).post(
        f"/api/entitlements/{entitlement.pk}/revoke", {"reason": "ended"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert accessions(bearer(api, token)) == [other_dataset.accession]


def test_token_for_a_disabled_account_is_refused(api, applicant, dataset):
    grant(applicant, dataset)
    token = mint(client_for(applicant))
    applicant.is_active = False
    applicant.save()
    assert bearer(api, token).get("/api/datasets").status_code == 401


def test_no_header_means_anonymous(api, db):
    response = api.get("/api/datasets")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_operator_revokes_a_token_in_the_admin(api, admin_user, applicant, dataset):
    from gdi_archive.audit.models import AuditEvent

    grant(applicant, dataset)
    token = mint(client_for(applicant))
    saved = PassportToken.objects.get(user=applicant)
    response = client_for(admin_user).post(
        "/admin/passports/passporttoken/", {"action": "revoke", "_selected_action": [saved.pk]}, follow=True
    )
    assert response.status_code == 200
    assert bearer(api, token).get("/api/datasets").status_code == 401
    assert AuditEvent.objects.get(action="passport.token.revoked").actor == admin_user


def test_a_token_follows_the_live_entitlements(api, applicant, dataset, other_dataset):
    """A token made before a new approval opens the new dataset too, and stops opening one
    whose entitlement is revoked, without minting again."""
    first = grant(applicant, dataset)
    token = mint(client_for(applicant))
    assert accessions(bearer(api, token)) == [dataset.accession]
    grant(applicant, other_dataset)
    assert sorted(accessions(bearer(api, token))) == sorted([dataset.accession, other_dataset.accession])
    first.status = "revoked"
    first.save()
    assert accessions(bearer(api, token)) == [other_dataset.accession]

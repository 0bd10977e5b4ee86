"""`/api/permissions/{user}` as an LS-AAI visa source (issue 10, item 10): a linked LS-AAI
identity's `sub`, `?expired=`, who may ask, and `/api/jwk`. Visas are read with PyJWT against
the JWKS served at /api/jwk, as a broker configured for REMS would."""

from datetime import timedelta

import jwt as pyjwt
import pytest
from django.test import override_settings
from django.utils import timezone

from gdi_archive.access.models import Entitlement
from gdi_archive.accounts.models import ExternalIdentity
from gdi_archive.passports import services
from tests.conftest import client_for, make_user
from tests.passports.conftest import grant, make_dataset

LSAAI = "https://login.aai.lifescience-ri.eu/oidc/"
SUB = "8d2a1e6c4f0b@lifescience-ri.eu"


@pytest.fixture
def broker_key(db, admin_user):
    key, _ = services.create_broker_api_key(name="LS-AAI", actor=admin_user)
    return key


@pytest.fixture
def linked(applicant):
    ExternalIdentity.objects.create(user=applicant, issuer=LSAAI.rstrip("/"), subject=SUB)
    return applicant


def read(api, token):
    jwks = pyjwt.PyJWKSet.from_dict(api.get("/api/jwk").json())
    header = pyjwt.get_unverified_header(token)
    key = next(k for k in jwks.keys if k.key_id == header["kid"])
    return pyjwt.decode(
        token, key=key.key, algorithms=[header["alg"]], options={"verify_aud": False, "verify_exp": False}
    )


def test_api_jwk_is_the_same_jwks(api, db):
    from gdi_archive.passports import keys

    keys.ensure_signing_keys()
    jwk = api.get("/api/jwk")
    assert jwk.status_code == 200 and jwk["Content-Type"] == "application/json"
    assert jwk.json() == api.get("/.well-known/jwks.json").json() and jwk.json()["keys"]


@override_settings(OIDC_ISSUER=LSAAI)
def test_a_broker_asks_by_the_linked_ls_aai_sub(api, linked, dataset, broker_key):
    grant(linked, dataset)
    response = api.get(f"/api/permissions/{SUB}", HTTP_X_REMS_API_KEY=broker_key)
    assert response.status_code == 200, response.content
    [visa] = response.json()["ga4gh_passport_v1"]
    claims = read(api, visa)
    assert claims["ga4gh_visa_v1"]["value"] == dataset.url and claims["sub"] == "alice"


@override_settings(OIDC_ISSUER=LSAAI)
def test_the_same_sub_of_another_issuer_is_nobody(api, applicant, dataset, broker_key):
    ExternalIdentity.objects.create(user=applicant, issuer="https://other-broker.example.org", subject=SUB)
    grant(applicant, dataset)
    assert api.get(f"/api/permissions/{SUB}", HTTP_X_API_KEY=broker_key).status_code == 404


@override_settings(OIDC_ISSUER=LSAAI)
def test_the_user_asks_by_their_own_sub_and_nobody_else_may(linked, other_applicant, dataset):
    grant(linked, dataset)
    assert len(client_for(linked).get(f"/api/permissions/{SUB}").json()["ga4gh_passport_v1"]) == 1
    assert client_for(other_applicant).get(f"/api/permissions/{SUB}").status_code == 404


def test_an_operator_may_read_anyone(admin_user, applicant, dataset):
    grant(applicant, dataset)
    response = client_for(admin_user).get("/api/permissions/alice")
    assert response.status_code == 200 and len(response.json()["ga4gh_passport_v1"]) == 1


def test_a_steward_or_dac_member_may_not(steward, dac_member, applicant, dataset):
    grant(applicant, dataset)
    assert client_for(steward).get("/api/permissions/alice").status_code == 404
    assert client_for(dac_member).get("/api/permissions/alice").status_code == 404


def test_expired_true_adds_ended_and_revoked_entitlements_as_dead_visas(api, applicant, dac, broker_key):
    now = timezone.now()
    live = grant(applicant, make_dataset(dac, title="Live"))
    ended = grant(applicant, make_dataset(dac, title="Ended"))
    Entitlement.objects.filter(pk=ended.pk).update(
        status=Entitlement.Status.EXPIRED, start=now - timedelta(days=30), end=now - timedelta(days=1)
    )
    revoked = grant(applicant, make_dataset(dac, title="Revoked"))
    Entitlement.objects.filter(pk=revoked.pk).update(
        status=Entitlement.Status.REVOKED, revoked_at=now - timedelta(hours=2)
    )

    def values(query):
        response = api.get(f"/api/permissions/alice{query}", HTTP_X_API_KEY=broker_key)
        assert response.status_code == 200, response.content
        return {
            read(api, v)["ga4gh_visa_v1"]["value"]: read(api, v)["exp"] for v in response.json()["ga4gh_passport_v1"]
        }

    assert set(values("")) == set(values("?expired=false")) == {live.dataset.url}
    everything = values("?expired=true")
    assert set(everything) == {live.dataset.url, ended.dataset.url, revoked.dataset.url}
    assert everything[live.dataset.url] > now.timestamp()
    assert everything[ended.dataset.url] <= (now - timedelta(days=1)).timestamp() + 1
    assert everything[revoked.dataset.url] <= (now - timedelta(hours=2)).timestamp() + 1


@pytest.mark.parametrize("value", ["yes", "1", "True", ""])
def test_another_expired_value_is_400(api, applicant, broker_key, value):
    response = api.get(f"/api/permissions/alice?expired={value}", HTTP_X_API_KEY=broker_key)
    assert response.status_code == 400 and response.json()["error"] == "InvalidInput"


def test_a_disabled_linked_user_is_not_found(api, broker_key, db):
    user = make_user("gone", is_active=False)
    ExternalIdentity.objects.create(user=user, issuer=LSAAI.rstrip("/"), subject="gone-sub")
    with override_settings(OIDC_ISSUER=LSAAI):
        assert api.get("/api/permissions/gone-sub", HTTP_X_API_KEY=broker_key).status_code == 404

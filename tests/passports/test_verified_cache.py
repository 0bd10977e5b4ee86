"""A verified passport is checked once per token (then reused until its earliest exp), while
revocation, entitlements and trust changes still count on the very next request."""

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY

from gdi_archive.passports import services
from tests.conftest import client_for
from tests.passports.conftest import bearer, grant

pytestmark = pytest.mark.django_db


def valid_visa_checks() -> float:
    return REGISTRY.get_sample_value("gdi_visa_validations_total", {"result": "valid"}) or 0.0


def listed(api, token):
    response = bearer(api, token).get("/api/datasets")
    return response.status_code, [d["accession"] for d in response.json()] if response.status_code == 200 else None


def test_the_same_token_is_verified_once(api, applicant, dataset):
    grant(applicant, dataset)
    token, _ = services.mint_passport_token(user=applicant)
    before = valid_visa_checks()
    assert listed(api, token) == (200, [dataset.accession])
    checked_once = valid_visa_checks()
    assert checked_once > before
    for _ in range(3):
        assert listed(api, token) == (200, [dataset.accession])
    assert valid_visa_checks() == checked_once


def test_with_the_cache_off_every_request_verifies(api, applicant, dataset):
    grant(applicant, dataset)
    token, _ = services.mint_passport_token(user=applicant)
    with override_settings(PASSPORT_CACHE_SECONDS=0):
        listed(api, token)
        once = valid_visa_checks()
        listed(api, token)
        assert valid_visa_checks() > once


def test_a_cached_token_is_refused_once_revoked(api, applicant, dataset):
    grant(applicant, dataset)
    token, saved = services.mint_passport_token(user=applicant)
    assert listed(api, token)[0] == 200
    services.revoke_passport_token(user=applicant, token_id=saved.pk)
    assert listed(api, token)[0] == 401


def test_a_cached_token_loses_a_revoked_entitlement_at_once(api, applicant, dataset, dac_member):
    entitlement = grant(applicant, dataset, granted_by=dac_member)
    token, _ = services.mint_passport_token(user=applicant)
    assert listed(api, token) == (200, [dataset.accession])
    revoked = client_for(dac_member).post(f"/api/entitlements/{entitlement.pk}/revoke", {}, format="json")
    assert revoked.status_code == 200, revoked.content
    assert listed(api, token) == (200, [])


def test_a_cached_token_of_a_disabled_account_is_refused(api, applicant, dataset):
    grant(applicant, dataset)
    token, _ = services.mint_passport_token(user=applicant)
    assert listed(api, token)[0] == 200
    applicant.is_active = False
    applicant.save(update_fields=["is_active"])
    assert listed(api, token)[0] == 401


def test_a_brokers_passport_is_refused_as_soon_as_the_broker_is_no_longer_trusted(api, trusted_broker, dataset):
    token = trusted_broker.passport([trusted_broker.visa(value=dataset.url)])
    assert listed(api, token)[0] == 200
    with override_settings(TRUSTED_ISSUERS=[]):
        assert listed(api, token)[0] == 401

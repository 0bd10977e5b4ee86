"""The audit log names the real client, not the ingress in front of us (issue 10, item 11)."""

import base64

import pytest
from django.test import Client, override_settings

from gdi_archive.audit.models import AuditEvent
from tests.conftest import PASSWORD, make_user

PROXY = "10.0.0.2"
CLIENT = "203.0.113.5"


def _mint(client: Client, **headers):
    basic = "Basic " + base64.b64encode(f"tessa:{PASSWORD}".encode()).decode()
    response = client.post("/api/tokens", "{}", content_type="application/json", HTTP_AUTHORIZATION=basic, **headers)
    assert response.status_code == 201, response.content
    return AuditEvent.objects.filter(action="passport.token.minted").latest("id")


@pytest.mark.django_db
def test_behind_one_trusted_proxy_the_audit_row_holds_the_real_client():
    make_user("tessa")
    with override_settings(TRUSTED_PROXY_COUNT=1):
        # The client forged an entry of its own; the proxy appended what it saw.
        event = _mint(Client(REMOTE_ADDR=PROXY), HTTP_X_FORWARDED_FOR=f"198.51.100.66, {CLIENT}")
    assert event.client_address == CLIENT


@pytest.mark.django_db
def test_without_trusted_proxies_a_forwarded_header_is_not_believed():
    make_user("tessa")
    event = _mint(Client(REMOTE_ADDR=PROXY), HTTP_X_FORWARDED_FOR=CLIENT)
    assert event.client_address == PROXY


@pytest.mark.django_db
def test_a_forwarded_entry_that_is_not_an_address_falls_back_to_the_peer():
    make_user("tessa")
    with override_settings(TRUSTED_PROXY_COUNT=1):
        event = _mint(Client(REMOTE_ADDR=PROXY), HTTP_X_FORWARDED_FOR="unknown")
    assert event.client_address == PROXY

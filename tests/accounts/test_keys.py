"""My keys: a real crypt4gh key pair; the key is checked when added; changes are audited."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from gdi_archive.accounts.models import PublicKey
from gdi_archive.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def keypair(tmp_path):
    sk, pk = tmp_path / "me.sec", tmp_path / "me.pub"
    subprocess.run(
        [str(Path(sys.executable).parent / "crypt4gh-keygen"), "--sk", str(sk), "--pk", str(pk), "--nocrypt", "-f"],
        check=True,
        capture_output=True,
        input=b"",
    )
    return sk, pk


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_add_list_and_revoke_a_key(applicant, keypair):
    import base64
    import hashlib

    _, pk = keypair
    text = pk.read_text()
    raw = base64.b64decode(text.strip().splitlines()[1])
    client = signed_in(applicant)
    response = client.post("/keys", {"label": "laptop", "key": text})
    assert response.status_code == 302
    key = PublicKey.objects.get(user=applicant)
    assert key.key == base64.b64encode(raw).decode() and key.fingerprint == hashlib.sha256(raw).hexdigest()
    page = client.get("/keys").content.decode()
    assert key.fingerprint in page and "laptop" in page
    again = client.post("/keys", {"key": text})
    assert "already registered" in again.content.decode()
    client.post(f"/keys/{key.pk}/revoke")
    key.refresh_from_db()
    assert key.revoked_at is not None
    actions = list(
        AuditEvent.objects.filter(actor=applicant, action__startswith="accounts.key").values_list("action", flat=True)
    )
    assert actions == ["accounts.key.added", "accounts.key.revoked"]
    assert text.splitlines()[1] not in str(AuditEvent.objects.values_list("details", flat=True))  # fingerprints only


def test_key_file_upload(applicant, keypair):
    from django.core.files.uploadedfile import SimpleUploadedFile

    _, pk = keypair
    response = signed_in(applicant).post("/keys", {"key_file": SimpleUploadedFile("me.pub", pk.read_bytes())})
    assert response.status_code == 302
    assert PublicKey.objects.filter(user=applicant).count() == 1


@pytest.mark.parametrize(
    "value, message",
    [
        ("not a key", "not recognised"),
        ("-----BEGIN CRYPT4GH PRIVATE KEY-----\nAAAA\n-----END CRYPT4GH PRIVATE KEY-----", "secret"),
        ("", "Paste a public key"),
    ],
)
def test_bad_keys_are_refused_with_a_reason(applicant, value, message):
    response = signed_in(applicant).post("/keys", {"key": value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not PublicKey.objects.exists()


def test_secret_key_file_is_refused(applicant, keypair):
    sk, _ = keypair
    response = signed_in(applicant).post("/keys", {"key": sk.read_text()})
    assert "secret" in response.content.decode()
    assert not PublicKey.objects.exists()


def test_another_users_key_cannot_be_revoked(applicant, other_applicant, keypair):
    _, pk = keypair
    signed_in(applicant).post("/keys", {"key": pk.read_text()})
    key = PublicKey.objects.get()
    assert signed_in(other_applicant).post(f"/keys/{key.pk}/revoke").status_code == 404
    assert signed_in(other_applicant).post("/keys/999999/revoke").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert key.fingerprint not in signed_in(other_applicant).get("/keys").content.decode()


def test_anonymous_cannot_add_keys(client):
    response = client.post("/keys", {"key": "x"})
    assert response.status_code == 302 and response["Location"].startswith("/login")


def test_login_page_offers_institution_sign_in_when_configured(client, settings):
    assert "/oidc/login" not in client.get("/login").content.decode()
    settings.OIDC_ISSUER = "https://login.example.org/oidc"
    page = client.get("/login?next=/requests").content.decode()
    assert "/oidc/login?next=/requests" in page


def test_not_found_page_is_the_sites(applicant):
    response = signed_in(applicant).get("/requests/424242")
    assert response.status_code == 404
    assert "There is nothing here, or you may not see it." in response.content.decode()


def test_a_refused_secret_key_is_never_shown_again(applicant, keypair):
    """The refusal page must not echo what was pasted: it may be a secret key."""
    sk, _ = keypair
    secret = sk.read_text()
    body = secret.strip().splitlines()[1]
    response = signed_in(applicant).post("/keys", {"key": secret, "label": "laptop"})
    html = response.content.decode()
    assert "secret" in html
    assert body not in html and "PRIVATE KEY-----" not in html
    assert 'value="laptop"' in html  # the harmless fields are kept


def test_revoking_a_key_asks_first(applicant, other_applicant, keypair):
    _, pk = keypair
    client = signed_in(applicant)
    client.post("/keys", {"key": pk.read_text(), "label": "laptop"})
    key = PublicKey.objects.get()
    assert f'href="/keys/{key.pk}/revoke"' in client.get("/keys").content.decode()
    page = client.get(f"/keys/{key.pk}/revoke").content.decode()
    assert "laptop" in page and key.fingerprint in page and "Revoke key" in page
    key.refresh_from_db()
    assert key.revoked_at is None
    assert signed_in(other_applicant).get(f"/keys/{key.pk}/revoke").status_code == 404
    assert client.post(f"/keys/{key.pk}/revoke").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None

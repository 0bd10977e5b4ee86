"""The "Access tokens" page: mint (shown once, with examples), list, revoke."""

import re

from django.urls import reverse

from gdi_archive.passports.models import PassportToken
from tests.conftest import client_for
from tests.passports.conftest import bearer, grant


def test_page_needs_sign_in(client, db):
    response = client.get(reverse("access-tokens"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_mint_shows_the_token_once_with_examples(api, applicant, dataset):
    grant(applicant, dataset)
    client = client_for(applicant)
    response = client.post(reverse("access-tokens"), {"action": "mint", "label": "laptop", "lifetime": "900"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    token = re.search(r'<textarea id="token"[^>]*>([^<]+)</textarea>', html).group(1).strip()
    assert "curl -H &quot;Authorization: Bearer $TOKEN&quot;" in html or "Authorization: Bearer $TOKEN" in html
    assert "/htsget/reads/" in html and "encryptionScheme=C4GH" in html
    assert [d["accession"] for d in bearer(api, token).get("/api/datasets").json()] == [dataset.accession]

    listing = client.get(reverse("access-tokens")).content.decode()
    assert token not in listing  # shown once only
    assert "laptop" in listing and dataset.accession in listing and "active" in listing


def test_revoke_from_the_page(api, applicant, dataset):
    grant(applicant, dataset)
    client = client_for(applicant)
    html = client.post(reverse("access-tokens"), {"action": "mint"}).content.decode()
    token = re.search(r'<textarea id="token"[^>]*>([^<]+)</textarea>', html).group(1).strip()
    saved = PassportToken.objects.get(user=applicant)
    response = client.post(reverse("access-tokens"), {"action": "revoke", "token": str(saved.pk)})
    assert response.status_code == 200 and "revoked" in response.content.decode()
    assert bearer(api, token).get("/api/datasets").status_code == 401


def test_cannot_revoke_someone_elses_token(applicant, other_applicant):
    client_for(other_applicant).post(reverse("access-tokens"), {"action": "mint"})
    theirs = PassportToken.objects.get(user=other_applicant)
    response = client_for(applicant).post(reverse("access-tokens"), {"action": "revoke", "token": str(theirs.pk)})
    assert response.status_code == 400
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    for bad in ({"action": "revoke", "token": "x"}, {"action": "explode"}, {"action": "mint", "lifetime": "ever"}):
        assert client_for(applicant).post(reverse("access-tokens"), bad).status_code == 400

"""The "Access tokens" page: mint (shown once, with examples), list, revoke."""

import re

from django.conf import settings
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


def _ready_file(dataset, user, name="NA12878.bam", fmt="BAM"):
    from gdi_archive.catalogue.models import File

    f = File.objects.create(submitter=user, inbox_name=name + ".c4gh", name=name, format=fmt, status="ready")
    f.accession = f"GDIF{f.pk:011d}"
    f.save(update_fields=["accession"])
    dataset.files.add(f)
    return f


def test_the_examples_name_my_datasets_and_the_token_wraps(api, applicant, dataset, steward):
    grant(applicant, dataset)
    sample = _ready_file(dataset, steward)
    html = client_for(applicant).post(reverse("access-tokens"), {"action": "mint"}).content.decode()
    token = re.search(r'<textarea id="token"[^>]*>([^<]+)</textarea>', html).group(1).strip()
    assert html.count(token) == 1  # only in the textarea: the examples read it from $TOKEN, never repeat it
    assert f"/api/datasets/{dataset.accession}/files" in html
    assert f"/api/files/{sample.accession}" in html and f"/htsget/reads/{sample.accession}?" in html
    assert f"gdi-archive download {sample.accession} --decrypt --sk ~/.c4gh/my.sec" in html
    assert "X-C4GH-Public-Key" in html  # no registered key: the examples send the public key file
    assert 'data-copy="#token"' in html  # the copy button
    css = (settings.BASE_DIR / "gdi_archive" / "static" / "css" / "site.css").read_text()
    assert "pre-wrap" in css and "textarea.token" in css


def test_revoking_a_token_asks_first(api, applicant, other_applicant, dataset):
    grant(applicant, dataset)
    client = client_for(applicant)
    html = client.post(reverse("access-tokens"), {"action": "mint", "label": "laptop"}).content.decode()
    token = re.search(r'<textarea id="token"[^>]*>([^<]+)</textarea>', html).group(1).strip()
    saved = PassportToken.objects.get(user=applicant)
    listing = client.get(reverse("access-tokens")).content.decode()
    assert f'href="/account/tokens/{saved.pk}/revoke"' in listing
    page = client.get(f"/account/tokens/{saved.pk}/revoke").content.decode()
    assert "laptop" in page and "Revoke token" in page and "Cancel" in page
    saved.refresh_from_db()
    assert saved.revoked_at is None
    assert client_for(other_applicant).get(f"/account/tokens/{saved.pk}/revoke").status_code == 404
    assert client_for(other_applicant).post(f"/account/tokens/{saved.pk}/revoke").status_code == 404
    response = client.post(f"/account/tokens/{saved.pk}/revoke")
    assert response.status_code == 302 and response["Location"] == reverse("access-tokens")
    assert bearer(api, token).get("/api/datasets").status_code == 401

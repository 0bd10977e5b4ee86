"""The applicant's pages, through Django's test client (a real session, real forms, CSRF on)."""

import pytest
from django.test import Client

from gdi_archive.access.models import AccessRequest, Attachment, Entitlement
from gdi_archive.audit.models import AuditEvent
from tests.conftest import PASSWORD

from .factories import released_dataset

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(dataset, **extra):
    data = {
        "datasets": [dataset.accession],
        "title": "Burden test",
        "purpose": "Find variants.",
        "institution": "UT",
        "duo": ["DUO:0000042"],
        "accept_terms": "on",
        "submit": "1",
    }
    data.update(extra)
    if data.get("submit") is None:
        data.pop("submit")
    return data


def test_catalogue_search_and_filters(client, dac, other_dac):
    a = released_dataset(dac, title="Rare disease exomes", duo=["DUO:0000042"])
    b = released_dataset(other_dac, title="Tumour genomes", duo=["DUO:0000007"])
    hidden = released_dataset(dac, title="Unreleased cohort")
    hidden.status = "draft"
    hidden.save()
    page = client.get("/datasets").content.decode()
    assert a.title in page and b.title in page and hidden.title not in page
    assert "GRU (general research use)" in page and "DS (disease specific research)" in page  # names, not bare codes
    assert b.title not in client.get("/datasets", {"q": "exome"}).content.decode()
    assert a.title not in client.get("/datasets", {"duo": "DUO:0000007"}).content.decode()
    assert a.title not in client.get("/datasets", {"duo": "DUO:0000004"}).content.decode()  # a code, not a prefix
    assert a.title in client.get("/datasets", {"duo": "DUO:0000042"}).content.decode()
    by_dac = client.get("/datasets", {"dac": other_dac.accession}).content.decode()
    assert b.title in by_dac and a.title not in by_dac
    partial = client.get("/datasets", {"q": "tumour"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and b.title in partial


def test_dataset_page_and_unreleased_is_404(client, dac):
    d = released_dataset(dac)
    page = client.get(f"/datasets/{d.accession}").content.decode()
    assert d.title in page and "Do not try to identify participants." in page
    d.status = "draft"
    d.save()
    assert client.get(f"/datasets/{d.accession}").status_code == 404
    assert client.get("/datasets/GDID00000099999").status_code == 404


def test_local_sign_in_is_audited(dac, applicant):
    client = Client()
    assert client.get("/login").status_code == 200
    response = client.post("/login", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200 and "alice" not in str(
        AuditEvent.objects.filter(action="accounts.signin").values()
    )
    response = client.post("/login", {"username": "alice", "password": PASSWORD, "next": "/requests"})
    assert response.status_code == 302 and response["Location"] == "/requests"
    assert AuditEvent.objects.filter(action="accounts.signin", actor=applicant).exists()
    failed = AuditEvent.objects.get(action="accounts.signin_failed")
    assert failed.details == {"username": "alice"}
    assert "wrong" not in str(failed.details)


def test_request_access_with_attachment_then_timeline(applicant, dac_member, dac, settings, tmp_path):
    settings.ACCESS_ATTACHMENTS_DIR = tmp_path / "att"
    d = released_dataset(dac)
    client = signed_in(applicant)
    page = client.get(f"/requests/new?dataset={d.accession}").content.decode()
    assert "Terms of use" in page and "Do not try to identify participants." in page
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("ethics.pdf", PDF, content_type="application/pdf")
    response = client.post("/requests/new", form(d, attachment=upload))
    req = AccessRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/requests/{req.pk}"
    assert req.status == "submitted"
    attachment = Attachment.objects.get()
    stored = tmp_path / "att" / attachment.location
    assert stored.read_bytes() == PDF and oct(stored.stat().st_mode & 0o777) == "0o600"
    detail = client.get(f"/requests/{req.pk}").content.decode()
    assert "ethics.pdf" in detail and "Burden test" in detail
    # the applicant and the DAC may read the attachment; others get 404
    url = f"/requests/{req.pk}/attachments/{attachment.pk}"
    assert b"".join(client.get(url).streaming_content) == PDF
    assert b"".join(signed_in(dac_member).get(url).streaming_content) == PDF


def test_terms_must_be_accepted_on_the_page(applicant, dac):
    d = released_dataset(dac)
    client = signed_in(applicant)
    data = form(d)
    del data["accept_terms"]
    response = client.post("/requests/new", data)
    assert response.status_code == 200
    assert not AccessRequest.objects.exists()


@pytest.mark.parametrize(
    "name, body, message",
    [
        ("notes.txt", PDF, "PDF"),
        ("fake.pdf", b"MZ\x90\x00 not a pdf", "not a PDF"),
    ],
)
def test_attachment_must_be_a_pdf(applicant, dac, settings, tmp_path, name, body, message):
    settings.ACCESS_ATTACHMENTS_DIR = tmp_path / "att"
    from django.core.files.uploadedfile import SimpleUploadedFile

    d = released_dataset(dac)
    client = signed_in(applicant)
    client.post("/requests/new", form(d, submit=None, draft="1"))
    req = AccessRequest.objects.get()
    response = client.post(
        f"/requests/{req.pk}/attachments", {"attachment": SimpleUploadedFile(name, body)}, follow=True
    )
    assert message in response.content.decode()
    assert not Attachment.objects.exists()
    assert not any((tmp_path / "att").rglob("*.pdf"))


def test_attachment_size_limit(applicant, dac, settings, tmp_path):
    settings.ACCESS_ATTACHMENTS_DIR = tmp_path / "att"
    settings.ACCESS_ATTACHMENT_MAX_BYTES = 2048
    from django.core.files.uploadedfile import SimpleUploadedFile

    d = released_dataset(dac)
    client = signed_in(applicant)
    client.post("/requests/new", form(d, submit=None, draft="1"))
    req = AccessRequest.objects.get()
    big = SimpleUploadedFile("big.pdf", PDF + b"0" * 4096)
    response = client.post(f"/requests/{req.pk}/attachments", {"attachment": big}, follow=True)
    assert "larger than" in response.content.decode()
    assert not Attachment.objects.exists()


def test_returned_request_is_answered_and_resubmitted(applicant, dac_member, dac):
    from gdi_archive.access import services

    d = released_dataset(dac)
    client = signed_in(applicant)
    client.post("/requests/new", form(d))
    req = AccessRequest.objects.get()
    services.return_request(access_request=req, member=dac_member, comment="Name your supervisor.")
    detail = client.get(f"/requests/{req.pk}").content.decode()
    assert "Name your supervisor." in detail and "Answer and submit again" in detail
    response = client.post(
        f"/requests/{req.pk}/edit",
        {
            "title": "Burden test",
            "purpose": "Supervisor: Prof. Tamm.",
            "institution": "UT",
            "duo": ["DUO:0000042"],
            "comment": "Added.",
            "submit": "1",
        },
    )
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == "submitted" and req.round == 2 and "Tamm" in req.purpose


def test_withdraw_and_comment(applicant, dac):
    d = released_dataset(dac)
    client = signed_in(applicant)
    client.post("/requests/new", form(d))
    req = AccessRequest.objects.get()
    client.post(f"/requests/{req.pk}/comment", {"comment": "Any news?"})
    client.post(f"/requests/{req.pk}/withdraw")
    req.refresh_from_db()
    assert req.status == "withdrawn"
    page = client.get(f"/requests/{req.pk}").content.decode()
    assert "Any news?" in page
    # withdrawing again is refused with a message, not an error page
    response = client.post(f"/requests/{req.pk}/withdraw", follow=True)
    assert response.status_code == 200 and "cannot be withdrawn" in response.content.decode()


def test_my_access_lists_entitlements_with_end_dates(applicant, dac_member, dac):
    from gdi_archive.access import services

    d = released_dataset(dac)
    client = signed_in(applicant)
    client.post("/requests/new", form(d))
    services.approve_request(access_request=AccessRequest.objects.get(), member=dac_member)
    ent = Entitlement.objects.get()
    page = client.get("/access").content.decode()
    assert d.accession in page and ent.end.strftime("%Y-%m-%d") in page


@pytest.mark.parametrize("persona", ["other_applicant", "other_dac_member"])
def test_pages_of_a_request_are_404_for_the_wrong_persona(request, persona, applicant, dac, settings, tmp_path):
    settings.ACCESS_ATTACHMENTS_DIR = tmp_path / "att"
    from django.core.files.uploadedfile import SimpleUploadedFile

    d = released_dataset(dac)
    owner = signed_in(applicant)
    owner.post("/requests/new", form(d, attachment=SimpleUploadedFile("e.pdf", PDF)))
    req = AccessRequest.objects.get()
    att = Attachment.objects.get()
    client = signed_in(request.getfixturevalue(persona))
    for url in (
        f"/requests/{req.pk}",
        f"/requests/{req.pk}/edit",
        f"/requests/{req.pk}/attachments/{att.pk}",
        "/requests/99999",
        f"/requests/99999/attachments/{att.pk}",
    ):
        assert client.get(url).status_code == 404, url
    for url in (f"/requests/{req.pk}/withdraw", f"/requests/{req.pk}/submit", f"/requests/{req.pk}/comment"):
        assert client.post(url, {"comment": "x"}).status_code == 404, url
    assert "Burden test" not in client.get("/requests").content.decode()
    req.refresh_from_db()
    assert req.status == "submitted" and req.events.count() == 3  # created, attachment, submitted


def test_anonymous_is_sent_to_sign_in_for_every_private_page(client, applicant, dac):
    d = released_dataset(dac)
    signed_in(applicant).post("/requests/new", form(d))
    req = AccessRequest.objects.get()
    for url in (
        "/requests",
        "/requests/new",
        f"/requests/{req.pk}",
        "/requests/99999",
        "/access",
        "/keys",
        f"/requests/{req.pk}/attachments/1",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login?next="), url


def test_language_switcher_gives_estonian(client, dac):
    released_dataset(dac)
    client.post("/i18n/setlang/", {"language": "et", "next": "/datasets"})
    page = client.get("/datasets").content.decode()
    assert 'lang="et"' in page
    assert "Andmestikud" in page

"""The GDI DAC workflow on the web pages (issue 14): the DAC's documents on the request form,
co-applicants and the invitation page, copies, the committee's question, and the workbench."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from gdi_archive.access.models import AccessRequest, Attachment, Entitlement, RequestMember
from tests.conftest import make_user

from .factories import released_dataset

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
DOCS = [
    {"kind": "ethics-approval", "label": "Ethics approval", "required": True},
    {"kind": "funding", "label": "Funding", "required": False},
]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pdf(name="doc.pdf", content=PDF):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def typed(dataset, **extra):
    data = {
        "datasets": [dataset.accession],
        "title": "Burden test",
        "purpose": "Find variants in 400 exomes.",
        "institution": "UT",
        "duo": ["DUO:0000042"],
        "accept_terms": "on",
        "submit": "1",
    }
    data.update(extra)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def with_documents(dac, settings, tmp_path):
    settings.ACCESS_ATTACHMENTS_DIR = tmp_path / "att"
    dac.required_documents = DOCS
    dac.save()
    return dac


def submitted(applicant, dataset, dac_member=None):
    client = signed_in(applicant)
    client.post("/requests/new", typed(dataset))
    return AccessRequest.objects.get(applicant=applicant, status="submitted")


# --- the request form a DAC configures ---------------------------------------------------------


def test_form_shows_the_dacs_documents_as_pdf_fields(applicant, dac, with_documents):
    d = released_dataset(dac)
    page = signed_in(applicant).get(f"/requests/new?dataset={d.accession}").content.decode()
    for kind, label in (("ethics-approval", "Ethics approval"), ("funding", "Funding")):
        field = re.search(rf'<input type="file" name="doc_{kind}"[^>]*>', page).group(0)
        assert 'accept="application/pdf,.pdf"' in field
        assert label in page
    assert page.count('class="required"') >= 1 and "<legend>Documents</legend>" in page


def test_a_non_pdf_is_refused_next_to_its_field_and_in_the_summary(applicant, dac, with_documents):
    d = released_dataset(dac)
    client = signed_in(applicant)
    fake = pdf("ethics.pdf", b"<html>not a pdf</html>")
    response = client.post("/requests/new", typed(d, **{"doc_ethics-approval": fake}))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="error-summary"' in page and 'href="#id_doc_ethics-approval"' in page
    assert 'id="id_doc_ethics-approval_error"' in page and "This file is not a PDF" in page
    assert 'value="Burden test"' in page and "Find variants in 400 exomes." in page  # what was typed is kept
    assert not AccessRequest.objects.exists() and not Attachment.objects.exists()


def test_a_missing_required_document_keeps_a_draft_and_says_so(applicant, dac, with_documents):
    d = released_dataset(dac)
    client = signed_in(applicant)
    response = client.post("/requests/new", typed(d, doc_funding=pdf("funding.pdf")))
    page = response.content.decode()
    req = AccessRequest.objects.get()
    assert response.status_code == 200 and req.status == "draft"
    assert 'id="error-summary"' in page and "Ethics approval" in page
    assert 'id="id_doc_ethics-approval_error"' in page and "This document is required" in page
    assert 'value="Burden test"' in page and f'action="/requests/{req.pk}/edit"' in page
    assert list(req.attachments.values_list("kind", flat=True)) == ["funding"]  # what passed is kept
    detail = client.get(f"/requests/{req.pk}").content.decode()
    assert "Funding: <a" in detail and 'id="documents-missing"' in detail and "Ethics approval" in detail
    # The edit form of the draft takes the missing document and submits.
    response = client.post(
        f"/requests/{req.pk}/edit",
        {"title": "Burden test", "purpose": "Find variants.", "duo": ["DUO:0000042"], "submit": "1"}
        | {"doc_ethics-approval": pdf("ethics.pdf")},
    )
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == "submitted" and req.attachments.count() == 2


def test_edit_form_refuses_a_non_pdf_and_keeps_the_typing(applicant, dac, with_documents):
    d = released_dataset(dac)
    client = signed_in(applicant)
    client.post("/requests/new", typed(d, submit=None, draft="1"))
    req = AccessRequest.objects.get()
    response = client.post(
        f"/requests/{req.pk}/edit",
        {"title": "A new title", "purpose": "New purpose.", "submit": "1", "comment": "See the ethics file."}
        | {"doc_ethics-approval": pdf("e.pdf", b"PK\x03\x04 a zip")},
    )
    page = response.content.decode()
    assert "This file is not a PDF" in page and 'value="A new title"' in page and "See the ethics file." in page
    req.refresh_from_db()
    assert req.status == "draft" and req.title == "Burden test"


# --- co-applicants ---------------------------------------------------------------------------------


def test_invite_join_and_remove_on_the_pages(applicant, dac, mailoutbox, django_capture_on_commit_callbacks):
    d = released_dataset(dac)
    alice = signed_in(applicant)
    alice.post("/requests/new", typed(d, submit=None, draft="1"))
    req = AccessRequest.objects.get()
    page = alice.get(f"/requests/{req.pk}").content.decode()
    assert 'id="invite-form"' in page and "Nobody else is on this request." in page
    assert alice.post(f"/requests/{req.pk}/members", {"email": "not an email"}).status_code == 302
    assert not RequestMember.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(f"/requests/{req.pk}/members", {"email": "erik@example.org"})
    [mail] = mailoutbox
    token = re.search(r"/invitations/([A-Za-z0-9_-]+)", mail.body).group(1)

    # The link: anonymous visitors sign in first; a wrong token is a clear 404 page.
    assert Client().get(f"/invitations/{token}")["Location"].startswith("/login?next=/invitations/")
    wrong = Client().get("/invitations/not-a-token")
    assert wrong.status_code == 404 and "Invitation not valid" in wrong.content.decode()
    erik = signed_in(make_user("erik"))
    page = erik.get(f"/invitations/{token}").content.decode()
    assert "Burden test" in page and "Do not try to identify participants." in page and 'name="accept_terms"' in page
    refused = erik.post(f"/invitations/{token}", {})
    assert "You must accept the terms" in refused.content.decode() and 'id="error-summary"' in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        joined = erik.post(f"/invitations/{token}", {"accept_terms": "on"})
    assert joined.status_code == 302 and joined["Location"] == f"/requests/{req.pk}"
    assert erik.get(f"/invitations/{token}").status_code == 404  # used
    assert erik.get(f"/requests/{req.pk}").status_code == 200

    member = RequestMember.objects.get()
    page = alice.get(f"/requests/{req.pk}").content.decode()
    assert "erik@example.org" in page and "joined, terms accepted" in page
    assert f'action="/requests/{req.pk}/members/{member.pk}/remove"' in page
    assert erik.post(f"/requests/{req.pk}/members/{member.pk}/remove").status_code == 404  # only the applicant
    with django_capture_on_commit_callbacks(execute=True):
        assert alice.post(f"/requests/{req.pk}/members/{member.pk}/remove").status_code == 302
    member.refresh_from_db()
    assert member.status == "removed" and erik.get(f"/requests/{req.pk}").status_code == 404


# --- copies and returned requests ------------------------------------------------------------------


def test_copy_a_closed_request_as_a_new_draft(applicant, dac):
    d = released_dataset(dac)
    alice = signed_in(applicant)
    req = submitted(applicant, d)
    assert 'id="copy-form"' not in alice.get(f"/requests/{req.pk}").content.decode()  # open: change it instead
    alice.post(f"/requests/{req.pk}/withdraw")
    assert 'id="copy-form"' in alice.get(f"/requests/{req.pk}").content.decode()
    alice.post(f"/requests/{req.pk}/copy", {})  # the terms again, or no copy
    assert AccessRequest.objects.count() == 1
    response = alice.post(f"/requests/{req.pk}/copy", {"accept_terms": "on"})
    copy = AccessRequest.objects.exclude(pk=req.pk).get()
    assert response["Location"] == f"/requests/{copy.pk}/edit"
    assert copy.status == "draft" and copy.title == req.title and copy.copied_from == req
    assert signed_in(make_user("mallory")).post(f"/requests/{req.pk}/copy", {"accept_terms": "on"}).status_code == 404


def test_returned_request_shows_the_question_at_the_top(applicant, dac_member, dac):
    d = released_dataset(dac)
    req = submitted(applicant, d)
    signed_in(dac_member).post(f"/dac/requests/{req.pk}/return", {"comment": "Which cohort exactly?"})
    page = signed_in(applicant).get(f"/requests/{req.pk}").content.decode()
    assert page.index('id="committee-question"') < page.index("<dl")
    assert "Which cohort exactly?" in page
    edit = signed_in(applicant).get(f"/requests/{req.pk}/edit").content.decode()
    assert edit.index("Which cohort exactly?") < edit.index(f'action="/requests/{req.pk}/edit"')


# --- the workbench ---------------------------------------------------------------------------------


def test_workbench_shows_what_a_decision_needs_and_approves(applicant, dac_member, dac, with_documents):
    d = released_dataset(dac, duo=["DUO:0000006", "DUO:0000046"])
    alice = signed_in(applicant)
    alice.post("/requests/new", typed(d, duo=["DUO:0000007"]) | {"doc_ethics-approval": pdf("ethics.pdf")})
    req = AccessRequest.objects.get(status="submitted")
    applicant.external_identities.create(
        issuer="https://login.example",
        subject="a1",
        affiliation="faculty@uni.example",
        researcher_status_at=req.created_at,
    )
    carol = signed_in(dac_member)
    inbox = carol.get("/dac/").content.decode()
    assert f'href="/dac/requests/{req.pk}"' in inbox and "0 days" in inbox and "0 / 1" in inbox
    page = carol.get(f"/dac/requests/{req.pk}").content.decode()
    assert 'id="duo-check"' in page and "Compatible" in page and "DUO:0000046" in page  # NCU: a condition
    attachment = req.attachments.get()
    assert f'href="/requests/{req.pk}/attachments/{attachment.pk}"' in page and "Ethics approval" in page
    assert "v1" in page and "alice" in page
    assert "faculty@uni.example" in page and "ResearcherStatus visa from the provider" in page
    response = carol.get(f"/requests/{req.pk}/attachments/{attachment.pk}")
    assert response["Content-Type"] == "application/pdf" and "inline" in response["Content-Disposition"]
    assert carol.post(f"/dac/requests/{req.pk}/approve", {"end": "", "comment": "Fine."}).status_code == 302
    assert Entitlement.objects.get().user == applicant


def test_workbench_is_404_for_everyone_but_the_committee(applicant, other_dac_member, dac_member, dac):
    d = released_dataset(dac)
    req = submitted(applicant, d)
    for who in (applicant, other_dac_member):
        client = signed_in(who)
        assert client.get(f"/dac/requests/{req.pk}").status_code == 404
        assert client.post(f"/dac/requests/{req.pk}/approve", {}).status_code == 404
    assert signed_in(applicant).get("/dac/").status_code == 404
    assert Client().get("/dac/")["Location"].startswith("/login")


def test_revoke_asks_for_confirmation_first(applicant, dac_member, dac):
    d = released_dataset(dac)
    req = submitted(applicant, d)
    carol = signed_in(dac_member)
    carol.post(f"/dac/requests/{req.pk}/approve", {"end": ""})
    ent = Entitlement.objects.get()
    assert f'href="/dac/entitlements/{ent.pk}/revoke"' in carol.get(f"/dac/requests/{req.pk}").content.decode()
    page = carol.get(f"/dac/entitlements/{ent.pk}/revoke").content.decode()
    assert "will lose access" in page and 'method="post"' in page
    ent.refresh_from_db()
    assert ent.status == "active"
    assert carol.post(f"/dac/entitlements/{ent.pk}/revoke", {"reason": "Project ended."}).status_code == 302
    ent.refresh_from_db()
    assert ent.status == "revoked"

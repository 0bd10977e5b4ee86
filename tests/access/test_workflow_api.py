"""The GDI DAC workflow through the API (design.md section 7): co-applicants, required documents,
remarks, copies, review requests."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from gdi_archive.access.models import Entitlement, TermsAcceptance
from tests.conftest import client_for, make_user

from .factories import request_body

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
DOCS = [
    {"kind": "ethics-approval", "label": "Ethics approval", "required": True},
    {"kind": "project-description", "label": "Project description", "required": True},
    {"kind": "funding", "label": "Funding", "required": False},
]


def create(client, *datasets, **extra):
    response = client.post("/api/access-requests", request_body(*datasets, **extra), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def upload(client, req_id, kind, content=PDF, name="doc.pdf"):
    return client.post(
        f"/api/access-requests/{req_id}/attachments",
        {"kind": kind, "file": SimpleUploadedFile(name, content, content_type="application/pdf")},
        format="multipart",
    )


def token_from(mail) -> str:
    return re.search(r"/invitations/([A-Za-z0-9_-]+)", mail.body).group(1)


# --- co-applicants --------------------------------------------------------------------------------


def test_co_applicant_invited_joins_and_gets_an_entitlement(
    applicant, dac_member, dataset, mailoutbox, django_capture_on_commit_callbacks
):
    alice = client_for(applicant)
    req = create(alice, dataset)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(f"/api/access-requests/{req['id']}/members", {"email": "Erik@Example.org"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {
        "id": response.json()["id"],
        "email": "erik@example.org",
        "username": None,
        "status": "invited",
        "terms_accepted": False,
    }
    assert "token" not in str(response.json())
    [invitation] = mailoutbox
    assert invitation.to == ["erik@example.org"]
    token = token_from(invitation)
    assert token not in alice.get(f"/api/access-requests/{req['id']}").content.decode()

    erik = make_user("erik")
    assert APIClient().post(f"/api/invitations/{token}/accept", {"accept_terms": True}, format="json").status_code in (
        401,
        403,
    )
    refused = client_for(erik).post(f"/api/invitations/{token}/accept", {"accept_terms": False}, format="json")
    assert refused.status_code == 400
    assert client_for(erik).get(f"/api/access-requests/{req['id']}").status_code == 404  # not a member yet
    with django_capture_on_commit_callbacks(execute=True):
        joined = client_for(erik).post(f"/api/invitations/{token}/accept", {"accept_terms": True}, format="json")
    assert joined.status_code == 200 and joined.json()["status"] == "accepted"
    assert mailoutbox[-1].to == ["alice@example.org"]
    assert TermsAcceptance.objects.filter(user=erik, dataset=dataset, version=dataset.terms_version).exists()
    assert (
        client_for(erik).post(f"/api/invitations/{token}/accept", {"accept_terms": True}, format="json").status_code
        == 404
    )
    assert client_for(erik).get(f"/api/access-requests/{req['id']}").status_code == 200
    assert client_for(erik).post(f"/api/access-requests/{req['id']}/submit").status_code == 403  # the applicant submits

    # A second invitee never joins: the DAC sees who has not accepted, and they get nothing.
    alice.post(f"/api/access-requests/{req['id']}/members", {"email": "frida@example.org"}, format="json")
    assert alice.post(f"/api/access-requests/{req['id']}/submit").status_code == 200
    seen = client_for(dac_member).get(f"/api/access-requests/{req['id']}").json()
    assert {(m["email"], m["status"], m["terms_accepted"]) for m in seen["members"]} == {
        ("erik@example.org", "accepted", True),
        ("frida@example.org", "invited", False),
    }
    kinds = [e["kind"] for e in seen["events"]]
    assert kinds.count("member_invited") == 2 and "member_joined" in kinds
    with django_capture_on_commit_callbacks(execute=True):
        approved = client_for(dac_member).post(f"/api/access-requests/{req['id']}/approve", {}, format="json")
    assert approved.status_code == 200
    assert set(Entitlement.objects.live().values_list("user__username", flat=True)) == {"alice", "erik"}
    assert {"alice@example.org", "erik@example.org"} <= set(mailoutbox[-1].to)


def test_applicant_removes_a_member_and_others_cannot(
    applicant, other_applicant, dataset, mailoutbox, django_capture_on_commit_callbacks
):
    alice = client_for(applicant)
    req = create(alice, dataset)
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(f"/api/access-requests/{req['id']}/members", {"email": "erik@example.org"}, format="json")
    erik = make_user("erik")
    client_for(erik).post(f"/api/invitations/{token_from(mailoutbox[0])}/accept", {"accept_terms": True}, format="json")
    assert client_for(erik).delete(f"/api/access-requests/{req['id']}/members/erik").status_code == 403
    assert client_for(other_applicant).delete(f"/api/access-requests/{req['id']}/members/erik").status_code == 404
    assert alice.delete(f"/api/access-requests/{req['id']}/members/nobody").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert alice.delete(f"/api/access-requests/{req['id']}/members/erik").status_code == 204
    assert mailoutbox[-1].to == ["erik@example.org"]
    assert client_for(erik).get(f"/api/access-requests/{req['id']}").status_code == 404
    body = alice.get(f"/api/access-requests/{req['id']}").json()
    assert body["members"][0]["status"] == "removed" and body["events"][-1]["kind"] == "member_removed"


@pytest.mark.parametrize("email, status", [("not-an-email", 400), ("alice@example.org", 400), ("", 400)])
def test_invitation_refusals(applicant, dataset, email, status):
    req = create(client_for(applicant), dataset)
    assert (
        client_for(applicant)
        .post(f"/api/access-requests/{req['id']}/members", {"email": email}, format="json")
        .status_code
        == status
    )


# --- documents ------------------------------------------------------------------------------------


def test_required_documents_set_by_the_dac_and_checked_at_submit(applicant, dac, dac_member, dataset):
    steward = make_user("sam", is_superuser=True)
    response = client_for(steward).patch(f"/api/dacs/{dac.accession}", {"required_documents": DOCS}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["required_documents"] == DOCS
    # A DAC member may set its own form too; another user may not see the DAC at all.
    assert (
        client_for(dac_member)
        .post(f"/api/dacs/{dac.accession}", {"required_documents": DOCS}, format="json")
        .status_code
        == 200
    )
    assert (
        client_for(applicant).patch(f"/api/dacs/{dac.accession}", {"required_documents": []}, format="json").status_code
        == 404
    )
    bad = client_for(steward).patch(
        f"/api/dacs/{dac.accession}", {"required_documents": [{"kind": "Not A Slug"}]}, format="json"
    )
    assert bad.status_code == 400

    alice = client_for(applicant)
    req = create(alice, dataset)
    assert upload(alice, req["id"], "ethics-approval").status_code == 201
    missing = alice.post(f"/api/access-requests/{req['id']}/submit")
    assert missing.status_code == 400
    assert missing.json()["error"] == "DocumentsMissing"
    assert missing.json()["missing"] == ["project-description"] and "Project description" in missing.json()["detail"]
    assert alice.get(f"/api/access-requests/{req['id']}").json()["status"] == "draft"

    not_pdf = upload(alice, req["id"], "project-description", content=b"<html>hello</html>")
    assert not_pdf.status_code == 400 and not_pdf.json()["error"] == "InvalidInput"
    truncated = upload(alice, req["id"], "project-description", content=b"%PDF-1.4\nno end marker")
    assert truncated.status_code == 400
    assert upload(alice, req["id"], "no-such-kind").status_code == 400
    added = upload(alice, req["id"], "project-description")
    assert added.status_code == 201 and added.json()["kind"] == "project-description"
    submitted = alice.post(f"/api/access-requests/{req['id']}/submit")
    assert submitted.status_code == 200 and submitted.json()["documents_missing"] == []


def test_documents_open_inline_for_the_dac_and_applicant_only(
    applicant, other_applicant, dac_member, other_dac_member, dataset
):
    alice = client_for(applicant)
    req = create(alice, dataset)
    attachment = upload(alice, req["id"], "").json()
    alice.post(f"/api/access-requests/{req['id']}/submit")
    url = f"/requests/{req['id']}/attachments/{attachment['id']}"
    for user in (applicant, dac_member):
        response = client_for(user).get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf" and response["Content-Disposition"].startswith("inline")
        assert b"".join(response.streaming_content) == PDF
    for user in (other_applicant, other_dac_member):
        assert client_for(user).get(url).status_code == 404


# --- remarks, review requests, copies -------------------------------------------------------------


def test_remark_is_for_the_dac_only(
    applicant, dac, dac_member, dataset, mailoutbox, django_capture_on_commit_callbacks
):
    alice = client_for(applicant)
    req = create(alice, dataset)
    alice.post(f"/api/access-requests/{req['id']}/submit")
    assert alice.post(f"/api/access-requests/{req['id']}/remark", {"comment": "mine"}, format="json").status_code == 403
    response = client_for(dac_member).post(
        f"/api/access-requests/{req['id']}/remark", {"comment": "Ethics letter is old."}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "remark" and response.json()["comment"] == "Ethics letter is old."
    assert (
        client_for(dac_member)
        .post(f"/api/access-requests/{req['id']}/remark", {"comment": " "}, format="json")
        .status_code
        == 400
    )
    assert alice.get(f"/api/access-requests/{req['id']}").json()["status"] == "submitted"  # no decision

    second = make_user("greta", is_staff=True)
    dac.members.add(second)
    with django_capture_on_commit_callbacks(execute=True):
        asked = client_for(dac_member).post(
            f"/dac/requests/{req['id']}/review", {"reviewer": "greta", "comment": "Please look"}
        )
    assert asked.status_code == 302
    assert mailoutbox[-1].to == ["greta@example.org"] and f"/dac/requests/{req['id']}" in mailoutbox[-1].body

    dac_view = [e["kind"] for e in client_for(dac_member).get(f"/api/access-requests/{req['id']}").json()["events"]]
    applicant_view = [e["kind"] for e in alice.get(f"/api/access-requests/{req['id']}").json()["events"]]
    assert "remark" in dac_view and "review_asked" in dac_view
    assert "remark" not in applicant_view and "review_asked" not in applicant_view
    assert "Ethics letter" not in alice.get(f"/requests/{req['id']}").content.decode()


def test_copy_a_closed_request(applicant, dac_member, dataset):
    alice = client_for(applicant)
    req = create(alice, dataset, duo=["DUO:0000006"])
    upload(alice, req["id"], "")
    assert (
        alice.post(f"/api/access-requests/{req['id']}/copy", {"accept_terms": True}, format="json").status_code == 409
    )
    alice.post(f"/api/access-requests/{req['id']}/submit")
    client_for(dac_member).post(f"/api/access-requests/{req['id']}/reject", {"reason": "Too broad"}, format="json")
    assert (
        client_for(dac_member)
        .post(f"/api/access-requests/{req['id']}/copy", {"accept_terms": True}, format="json")
        .status_code
        == 403
    )
    assert alice.post(f"/api/access-requests/{req['id']}/copy", {}, format="json").status_code == 400  # terms again
    response = alice.post(f"/api/access-requests/{req['id']}/copy", {"accept_terms": True}, format="json")
    assert response.status_code == 201, response.content
    copy = response.json()
    assert copy["status"] == "draft" and copy["id"] != req["id"] and copy["copied_from"] == req["id"]
    for field in ("datasets", "title", "purpose", "institution", "duo"):
        assert copy[field] == req[field]
    assert copy["attachments"] == []


def test_returned_request_shows_the_dac_what_changed(applicant, dac_member, dataset):
    alice = client_for(applicant)
    req = create(alice, dataset)
    alice.post(f"/api/access-requests/{req['id']}/submit")
    client_for(dac_member).post(
        f"/api/access-requests/{req['id']}/return", {"comment": "Which variants exactly?"}, format="json"
    )
    page = alice.get(f"/requests/{req['id']}/edit").content.decode()
    assert "Which variants exactly?" in page
    alice.post(
        f"/requests/{req['id']}/edit",
        {
            "title": req["title"],
            "purpose": "Find causal splice variants.",
            "institution": req["institution"],
            "duo": ["DUO:0000042"],
            "submit": "1",
        },
    )
    assert alice.get(f"/api/access-requests/{req['id']}").json()["status"] == "submitted"
    page = client_for(dac_member).get(f"/dac/requests/{req['id']}").content.decode()
    assert "<ins>splice</ins>" in page


def test_end_date_past_the_limit_is_refused_on_the_workbench(applicant, dac_member, dataset2):
    alice = client_for(applicant)
    req = create(alice, dataset2)
    alice.post(f"/api/access-requests/{req['id']}/submit")
    far = (timezone.now() + timedelta(days=90)).date().isoformat()
    page = client_for(dac_member).post(f"/dac/requests/{req['id']}/approve", {"end": far, "comment": ""})
    assert page.status_code == 400
    limit = (timezone.now() + timedelta(days=30)).date().isoformat()
    assert limit in page.content.decode()
    assert not Entitlement.objects.exists()

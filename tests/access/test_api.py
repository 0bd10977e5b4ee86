"""The access request API end to end: every transition, every refusal, every wrong persona."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gdi_archive.access.models import AccessRequest, Entitlement, TermsAcceptance
from gdi_archive.audit.models import AuditEvent
from tests.conftest import client_for

from .factories import request_body

pytestmark = pytest.mark.django_db


def create(client, *datasets, **extra):
    response = client.post("/api/access-requests", request_body(*datasets, **extra), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def submitted(applicant, *datasets):
    client = client_for(applicant)
    req = create(client, *datasets)
    response = client.post(f"/api/access-requests/{req['id']}/submit")
    assert response.status_code == 200, response.content
    return response.json()


def test_create_records_terms_version_and_is_a_draft(applicant, dataset, dataset2):
    dataset2.terms_version = 3
    dataset2.save()
    body = create(client_for(applicant), dataset, dataset2)
    assert body["status"] == "draft"
    assert body["datasets"] == sorted([dataset.accession, dataset2.accession])
    assert body["dac"] == dataset.dac.accession
    versions = dict(TermsAcceptance.objects.filter(user=applicant).values_list("dataset__accession", "version"))
    assert versions == {dataset.accession: 1, dataset2.accession: 3}
    assert AuditEvent.objects.filter(action="access.request.created", target_id=str(body["id"])).exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"accept_terms": False}, "terms"),
        ({"accept_terms": None}, "terms"),
        ({"title": ""}, "title"),
        ({"purpose": "   "}, "purpose"),
        ({"duo": ["GRU"]}, "DUO"),
        ({"duo": "DUO:0000042"}, "DUO"),
        ({"duo": ["DUO:9999999"]}, "DUO:9999999"),
        ({"datasets": []}, "dataset"),
        ({"datasets": ["GDID99999999999"]}, "GDID99999999999"),
    ],
)
def test_create_refuses_bad_input(applicant, dataset, change, message):
    response = client_for(applicant).post("/api/access-requests", request_body(dataset, **change), format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidInput"
    assert message.lower() in response.json()["detail"].lower()
    assert not AccessRequest.objects.exists()


def test_datasets_of_two_dacs_are_refused(applicant, dataset, other_dataset):
    response = client_for(applicant).post("/api/access-requests", request_body(dataset, other_dataset), format="json")
    assert response.status_code == 400
    assert "same DAC" in response.json()["detail"]


def test_unreleased_dataset_is_refused(applicant, dataset):
    dataset.status = "draft"
    dataset.save()
    response = client_for(applicant).post("/api/access-requests", request_body(dataset), format="json")
    assert response.status_code == 400


def test_second_open_request_for_same_dataset_is_409(applicant, dataset, dataset2):
    client = client_for(applicant)
    create(client, dataset)
    response = client.post("/api/access-requests", request_body(dataset2, dataset), format="json")
    assert response.status_code == 409
    assert dataset.accession in response.json()["detail"]
    # A different dataset is fine, and another applicant may ask for the same one.
    create(client, dataset2)


def test_closed_request_does_not_block_a_new_one(applicant, dataset):
    client = client_for(applicant)
    req = create(client, dataset)
    assert client.post(f"/api/access-requests/{req['id']}/withdraw").status_code == 200
    create(client, dataset)


def test_submit_approve_creates_entitlements_within_each_max_period(
    applicant, dac_member, dataset, dataset2, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        req = submitted(applicant, dataset, dataset2)
    assert req["status"] == "submitted"
    assert [m.to for m in mailoutbox] and "carol@example.org" in mailoutbox[-1].to
    far = (timezone.now() + timedelta(days=200)).date().isoformat()
    # dataset2 allows 30 days: refused, with the limit shown; nothing is cut silently
    refused = client_for(dac_member).post(f"/api/access-requests/{req['id']}/approve", {"end": far}, format="json")
    assert refused.status_code == 400 and refused.json()["error"] == "InvalidInput"
    limit = (timezone.now() + timedelta(days=30)).date().isoformat()
    assert dataset2.accession in refused.json()["detail"] and limit in refused.json()["detail"]
    assert AccessRequest.objects.get(pk=req["id"]).status == "submitted"
    far = (timezone.now() + timedelta(days=20)).date().isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(dac_member).post(
            f"/api/access-requests/{req['id']}/approve", {"end": far, "comment": "fine"}, format="json"
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "approved"
    ends = {e["dataset"]: e["end"][:10] for e in body["entitlements"]}
    assert ends == {dataset.accession: far, dataset2.accession: far}
    assert all(e["status"] == "active" for e in body["entitlements"])
    assert Entitlement.objects.live().filter(user=applicant).count() == 2
    assert mailoutbox[-1].to == ["alice@example.org"] and "approved" in mailoutbox[-1].subject
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"access.request.submitted", "access.request.approved", "access.entitlement.granted"} <= actions


def test_approve_default_end_is_the_maximum_period(applicant, dac_member, dataset2):
    req = submitted(applicant, dataset2)
    body = client_for(dac_member).post(f"/api/access-requests/{req['id']}/approve").json()
    end = Entitlement.objects.get(pk=body["entitlements"][0]["id"]).end
    assert timedelta(days=29, hours=23) < end - timezone.now() <= timedelta(days=30)


def test_approve_end_in_the_past_is_400(applicant, dac_member, dataset):
    req = submitted(applicant, dataset)
    response = client_for(dac_member).post(
        f"/api/access-requests/{req['id']}/approve", {"end": "2001-01-01"}, format="json"
    )
    assert response.status_code == 400
    assert AccessRequest.objects.get(pk=req["id"]).status == "submitted"


def test_quorum_needs_two_members(applicant, dac, dac_member, dataset, django_user_model):
    from tests.conftest import make_user

    second = make_user("erin", is_staff=True)
    dac.members.add(second)
    dac.required_approvals = 2
    dac.save()
    req = submitted(applicant, dataset)
    first = client_for(dac_member).post(f"/api/access-requests/{req['id']}/approve").json()
    assert first["status"] == "submitted" and first["approvals"] == {"given": 1, "required": 2}
    assert not Entitlement.objects.exists()
    again = client_for(dac_member).post(f"/api/access-requests/{req['id']}/approve")
    assert again.status_code == 409
    done = client_for(second).post(f"/api/access-requests/{req['id']}/approve").json()
    assert done["status"] == "approved" and len(done["entitlements"]) == 1


def test_reject_needs_a_reason_and_is_final(
    applicant, dac_member, dataset, mailoutbox, django_capture_on_commit_callbacks
):
    req = submitted(applicant, dataset)
    member = client_for(dac_member)
    assert member.post(f"/api/access-requests/{req['id']}/reject", {}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = member.post(
            f"/api/access-requests/{req['id']}/reject", {"reason": "No ethics approval."}, format="json"
        )
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert "No ethics approval." in mailoutbox[-1].body
    for action in ("approve", "reject", "return"):
        assert (
            member.post(
                f"/api/access-requests/{req['id']}/{action}", {"reason": "x", "comment": "x"}, format="json"
            ).status_code
            == 409
        )
    applicant_client = client_for(applicant)
    assert applicant_client.post(f"/api/access-requests/{req['id']}/withdraw").status_code == 409
    assert applicant_client.post(f"/api/access-requests/{req['id']}/submit").status_code == 409


def test_return_then_resubmit_then_approve(
    applicant, dac_member, dataset, mailoutbox, django_capture_on_commit_callbacks
):
    req = submitted(applicant, dataset)
    member = client_for(dac_member)
    assert member.post(f"/api/access-requests/{req['id']}/return", {}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        body = member.post(
            f"/api/access-requests/{req['id']}/return", {"comment": "Add the ethics approval."}, format="json"
        ).json()
    assert body["status"] == "returned"
    assert "Add the ethics approval." in mailoutbox[-1].body
    # a returned request cannot be decided
    assert member.post(f"/api/access-requests/{req['id']}/approve").status_code == 409
    resubmitted = client_for(applicant).post(f"/api/access-requests/{req['id']}/submit").json()
    assert resubmitted["status"] == "submitted"
    assert member.post(f"/api/access-requests/{req['id']}/approve").json()["status"] == "approved"
    kinds = [e["kind"] for e in member.get(f"/api/access-requests/{req['id']}").json()["events"]]
    assert kinds == ["created", "submitted", "returned", "submitted", "approved"]


def test_withdraw_before_decision(applicant, dac_member, dataset):
    req = submitted(applicant, dataset)
    client = client_for(applicant)
    assert client.post(f"/api/access-requests/{req['id']}/withdraw").json()["status"] == "withdrawn"
    assert client.post(f"/api/access-requests/{req['id']}/withdraw").status_code == 409
    assert client.post(f"/api/access-requests/{req['id']}/submit").status_code == 409
    assert client_for(dac_member).post(f"/api/access-requests/{req['id']}/approve").status_code == 409


def test_withdraw_after_approval_is_409(applicant, dac_member, dataset):
    req = submitted(applicant, dataset)
    client_for(dac_member).post(f"/api/access-requests/{req['id']}/approve")
    assert client_for(applicant).post(f"/api/access-requests/{req['id']}/withdraw").status_code == 409


def test_deciding_a_draft_is_invisible_to_the_dac(applicant, dac_member, dataset):
    req = create(client_for(applicant), dataset)
    assert client_for(dac_member).post(f"/api/access-requests/{req['id']}/approve").status_code == 404
    assert client_for(dac_member).get(f"/api/access-requests/{req['id']}").status_code == 404


def test_applicant_who_is_a_member_cannot_approve_own_request(applicant, dac, dataset):
    dac.members.add(applicant)
    req = submitted(applicant, dataset)
    response = client_for(applicant).post(f"/api/access-requests/{req['id']}/approve")
    assert response.status_code == 403


# --- who may see and do what ---------------------------------------------------------------------


def test_applicant_may_see_but_not_decide_own_request(applicant, dataset):
    req = submitted(applicant, dataset)
    client = client_for(applicant)
    assert client.get(f"/api/access-requests/{req['id']}").status_code == 200
    for action in ("approve", "reject", "return"):
        response = client.post(
            f"/api/access-requests/{req['id']}/{action}", {"reason": "x", "comment": "x"}, format="json"
        )
        assert response.status_code == 403, action
        assert response.json()["error"] == "Forbidden"


def test_member_may_see_but_not_submit_or_withdraw(applicant, dac_member, dataset):
    req = submitted(applicant, dataset)
    client = client_for(dac_member)
    assert client.get(f"/api/access-requests/{req['id']}").status_code == 200
    assert client.post(f"/api/access-requests/{req['id']}/withdraw").status_code == 403
    assert client.post(f"/api/access-requests/{req['id']}/submit").status_code == 403


@pytest.mark.parametrize("persona", ["other_applicant", "other_dac_member"])
def test_wrong_persona_gets_the_same_404_as_a_missing_request(request, persona, applicant, dataset):
    req = submitted(applicant, dataset)
    client = client_for(request.getfixturevalue(persona))
    missing = client.get("/api/access-requests/999999")
    assert missing.status_code == 404
    for method, suffix in [
        ("get", ""),
        ("post", "/submit"),
        ("post", "/withdraw"),
        ("post", "/approve"),
        ("post", "/reject"),
        ("post", "/return"),
    ]:
        response = getattr(client, method)(
            f"/api/access-requests/{req['id']}{suffix}", {"reason": "x", "comment": "x"}, format="json"
        )
        assert response.status_code == 404, suffix
        assert response.json() == missing.json()
    assert client.get("/api/access-requests").json() == []
    assert AccessRequest.objects.get(pk=req["id"]).status == "submitted"


def test_anonymous_is_turned_away(api, applicant, dataset):
    req = submitted(applicant, dataset)
    for path in (
        f"/api/access-requests/{req['id']}",
        "/api/access-requests/999999",
        "/api/access-requests",
        "/api/entitlements",
    ):
        assert api.get(path).status_code == 401
    assert api.post(f"/api/access-requests/{req['id']}/approve").status_code == 401
    assert api.post("/api/access-requests", request_body(dataset), format="json").status_code == 401


def test_lists_show_only_what_each_persona_may_see(
    applicant, other_applicant, dac_member, other_dac_member, dataset, other_dataset
):
    mine = submitted(applicant, dataset)
    theirs = submitted(other_applicant, other_dataset)
    create(client_for(other_applicant), dataset)  # a draft: the DAC does not see it
    assert [r["id"] for r in client_for(applicant).get("/api/access-requests").json()] == [mine["id"]]
    assert [r["id"] for r in client_for(dac_member).get("/api/access-requests").json()] == [mine["id"]]
    assert [r["id"] for r in client_for(other_dac_member).get("/api/access-requests").json()] == [theirs["id"]]


# --- entitlements ----------------------------------------------------------------------------------


def approved(applicant, member, *datasets):
    req = submitted(applicant, *datasets)
    return client_for(member).post(f"/api/access-requests/{req['id']}/approve").json()


def test_entitlement_list_and_revoke(
    applicant, other_applicant, dac_member, other_dac_member, dataset, mailoutbox, django_capture_on_commit_callbacks
):
    ent = approved(applicant, dac_member, dataset)["entitlements"][0]
    assert [e["id"] for e in client_for(applicant).get("/api/entitlements").json()] == [ent["id"]]
    assert [e["id"] for e in client_for(dac_member).get("/api/entitlements").json()] == [ent["id"]]
    assert client_for(other_applicant).get("/api/entitlements").json() == []
    assert client_for(other_dac_member).get("/api/entitlements").json() == []
    # holder: sees it but may not revoke; strangers: 404 like a missing one
    assert client_for(applicant).post(f"/api/entitlements/{ent['id']}/revoke").status_code == 403
    for persona in (other_applicant, other_dac_member):
        assert client_for(persona).post(f"/api/entitlements/{ent['id']}/revoke").status_code == 404
    assert client_for(dac_member).post("/api/entitlements/999999/revoke").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(dac_member).post(
            f"/api/entitlements/{ent['id']}/revoke", {"reason": "Project ended."}, format="json"
        )
    assert response.status_code == 200
    assert response.json()["status"] == "revoked" and response.json()["revoke_reason"] == "Project ended."
    assert not Entitlement.objects.live().exists()
    assert "revoked" in mailoutbox[-1].subject
    assert client_for(dac_member).post(f"/api/entitlements/{ent['id']}/revoke").status_code == 409
    assert AuditEvent.objects.filter(action="access.entitlement.revoked").count() == 1


def test_body_must_be_an_object(applicant, dac_member, dataset):
    req = submitted(applicant, dataset)
    response = client_for(dac_member).post(f"/api/access-requests/{req['id']}/reject", ["x"], format="json")
    assert response.status_code == 400


def test_approving_a_withdrawn_dataset_is_409(applicant, dac_member, dataset):
    req = submitted(applicant, dataset)
    dataset.status = "withdrawn"
    dataset.save()
    response = client_for(dac_member).post(f"/api/access-requests/{req['id']}/approve")
    assert response.status_code == 409
    assert not Entitlement.objects.exists()
    assert AccessRequest.objects.get(pk=req["id"]).decisions.count() == 0  # rolled back with the refusal

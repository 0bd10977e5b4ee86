"""Decisions in the Django admin: scoped querysets, and the same services (so the same rules)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gdi_archive.access import services
from gdi_archive.access.models import AccessRequest, Entitlement
from tests.conftest import make_user

from .factories import released_dataset

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def submitted(applicant, dataset, title="Burden test"):
    req = services.create_request(
        applicant=applicant,
        datasets=[dataset.accession],
        title=title,
        purpose="Find variants.",
        institution="UT",
        accept_terms=True,
    )
    return services.submit_request(access_request=req, applicant=applicant)


@pytest.fixture
def two_requests(applicant, other_applicant, dac, other_dac):
    mine = submitted(applicant, released_dataset(dac), title="Ours")
    theirs = submitted(other_applicant, released_dataset(other_dac, title="Tumours"), title="Theirs")
    return mine, theirs


def test_member_sees_only_own_dac_requests(dac_member, two_requests):
    mine, theirs = two_requests
    client = signed_in(dac_member)
    listing = client.get("/admin/access/accessrequest/").content.decode()
    assert "Ours" in listing and "Theirs" not in listing
    assert client.get(f"/admin/access/accessrequest/{mine.pk}/change/").status_code == 200
    # Another DAC's request: the admin answers exactly as for a missing object.
    other = client.get(f"/admin/access/accessrequest/{theirs.pk}/change/", follow=True)
    missing = client.get("/admin/access/accessrequest/999999/change/", follow=True)
    assert other.redirect_chain == missing.redirect_chain == [("/admin/", 302)]
    assert "Theirs" not in other.content.decode()
    assert client.get(f"/admin/access/accessrequest/{theirs.pk}/decide/").status_code == 404
    assert client.post(f"/admin/access/accessrequest/{theirs.pk}/decide/", {"verdict": "approve"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "submitted"


def test_request_page_shows_the_whole_application(dac_member, two_requests):
    mine, _ = two_requests
    services.add_comment(access_request=mine, author=mine.applicant, comment="Supervisor agrees.")
    page = signed_in(dac_member).get(f"/admin/access/accessrequest/{mine.pk}/change/").content.decode()
    for text in ("Ours", "Find variants.", "UT", "Supervisor agrees.", "Decide", "alice@example.org", "0 / 1"):
        assert text in page
    assert "/admin/accounts/user/" not in page  # no links to pages a member may not open


def test_approve_in_admin_with_end_date(dac_member, two_requests):
    mine, _ = two_requests
    client = signed_in(dac_member)
    # 2099 is past the dataset's 365 days: refused with the limit shown, never cut silently
    response = client.post(
        f"/admin/access/accessrequest/{mine.pk}/decide/", {"verdict": "approve", "end": "2099-01-01", "comment": ""}
    )
    assert response.status_code == 200 and "at most 365 days" in response.content.decode()
    mine.refresh_from_db()
    assert mine.status == "submitted"
    end = (timezone.now() + timedelta(days=100)).date().isoformat()
    response = client.post(
        f"/admin/access/accessrequest/{mine.pk}/decide/", {"verdict": "approve", "end": end, "comment": ""}
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.status == "approved"
    ent = Entitlement.objects.get(access_request=mine)
    assert ent.end.date().isoformat() == end


@pytest.mark.parametrize("verdict, status", [("reject", "rejected"), ("return", "returned")])
def test_reject_and_return_need_a_comment(dac_member, two_requests, verdict, status):
    mine, _ = two_requests
    client = signed_in(dac_member)
    response = client.post(f"/admin/access/accessrequest/{mine.pk}/decide/", {"verdict": verdict, "comment": ""})
    assert response.status_code == 200 and "is required" in response.content.decode()
    mine.refresh_from_db()
    assert mine.status == "submitted"
    client.post(f"/admin/access/accessrequest/{mine.pk}/decide/", {"verdict": verdict, "comment": "Because."})
    mine.refresh_from_db()
    assert mine.status == status


def test_admin_cannot_decide_twice(dac_member, two_requests):
    mine, _ = two_requests
    client = signed_in(dac_member)
    client.post(f"/admin/access/accessrequest/{mine.pk}/decide/", {"verdict": "reject", "comment": "No."})
    response = client.post(f"/admin/access/accessrequest/{mine.pk}/decide/", {"verdict": "approve"})
    assert response.status_code == 200 and "Only a submitted request" in response.content.decode()
    assert not Entitlement.objects.exists()


def test_entitlements_scoped_and_revoked_in_admin(dac_member, other_dac_member, two_requests):
    mine, theirs = two_requests
    services.approve_request(access_request=mine, member=dac_member)
    ent = Entitlement.objects.get()
    other = signed_in(other_dac_member)
    assert other.get(f"/admin/access/entitlement/{ent.pk}/revoke/").status_code == 404
    assert other.post(f"/admin/access/entitlement/{ent.pk}/revoke/", {"reason": "x"}).status_code == 404
    assert "alice" not in other.get("/admin/access/entitlement/").content.decode()
    client = signed_in(dac_member)
    assert "alice" in client.get("/admin/access/entitlement/").content.decode()
    response = client.post(f"/admin/access/entitlement/{ent.pk}/revoke/", {"reason": "Ended early."})
    assert response.status_code == 302
    ent.refresh_from_db()
    assert ent.status == "revoked" and ent.revoke_reason == "Ended early." and ent.revoked_by == dac_member


def test_applicants_and_plain_staff_see_nothing(applicant, two_requests):
    assert signed_in(applicant).get("/admin/access/accessrequest/").status_code == 302  # not staff: sent to sign in
    staff = make_user("frank", is_staff=True)
    client = signed_in(staff)
    assert client.get("/admin/access/accessrequest/").status_code == 403
    assert client.get(f"/admin/access/accessrequest/{two_requests[0].pk}/decide/").status_code == 404


def test_drafts_stay_private_in_admin(applicant, dac_member, dac):
    req = services.create_request(
        applicant=applicant,
        datasets=[released_dataset(dac).accession],
        title="Secret draft",
        purpose="p",
        accept_terms=True,
    )
    client = signed_in(dac_member)
    assert "Secret draft" not in client.get("/admin/access/accessrequest/").content.decode()
    assert client.get(f"/admin/access/accessrequest/{req.pk}/decide/").status_code == 404
    assert AccessRequest.objects.get().status == "draft"


def test_anonymous_is_sent_to_the_admin_sign_in(client, two_requests):
    mine, _ = two_requests
    for url in (
        f"/admin/access/accessrequest/{mine.pk}/change/",
        f"/admin/access/accessrequest/{mine.pk}/decide/",
        "/admin/access/entitlement/1/revoke/",
        "/admin/audit/auditevent/",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
    assert client.post(f"/admin/access/accessrequest/{mine.pk}/decide/", {"verdict": "approve"}).status_code == 302
    mine.refresh_from_db()
    assert mine.status == "submitted"


def test_list_actions_go_through_the_services(applicant, other_applicant, dac, dac_member, two_requests):
    mine, theirs = two_requests
    draft_like = submitted(other_applicant, released_dataset(dac, title="Second"), title="Second")
    client = signed_in(dac_member)
    # theirs belongs to another DAC: even if its id is posted, the action's queryset does not hold it
    client.post(
        "/admin/access/accessrequest/",
        {"action": "approve_selected", "_selected_action": [mine.pk, theirs.pk, draft_like.pk]},
    )
    assert {r.pk: r.status for r in AccessRequest.objects.all()} == {
        mine.pk: "approved",
        theirs.pk: "submitted",
        draft_like.pk: "approved",
    }
    ids = list(Entitlement.objects.values_list("pk", flat=True))
    page = client.post("/admin/access/entitlement/", {"action": "revoke_selected", "_selected_action": ids})
    assert page.status_code == 200 and "Reason" in page.content.decode()
    assert Entitlement.objects.filter(status="active").count() == 2
    client.post(
        "/admin/access/entitlement/",
        {"action": "revoke_selected", "_selected_action": ids, "apply": "1", "reason": "Audit finding."},
    )
    assert set(Entitlement.objects.values_list("status", "revoke_reason")) == {("revoked", "Audit finding.")}
    # a second time: refused per entitlement by the service, nothing changes
    response = client.post(
        "/admin/access/entitlement/", {"action": "revoke_selected", "_selected_action": ids, "apply": "1"}, follow=True
    )
    assert "already" in response.content.decode()

"""Separation of duties (issue 10, item 9): who sits on a DAC is changed only by an operator or a
member of that DAC, through the API and the admin; every change is audited and mailed to the
DAC's members."""

import pytest
from django.test import Client

from gdi_archive.audit.models import AuditEvent
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def add(user, dac, username):
    return client_for(user).post(f"/api/dacs/{dac.accession}/members", {"username": username}, format="json")


def member_events():
    return list(AuditEvent.objects.filter(action__startswith="catalogue.dac.member_").values_list("action", flat=True))


def test_a_steward_adding_themselves_to_a_dac_is_403(
    steward, dac, dac_member, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = add(steward, dac, steward.username)
    assert response.status_code == 403 and response.json()["error"] == "Forbidden"
    assert not dac.members.filter(pk=steward.pk).exists()
    assert member_events() == [] and mailoutbox == []


def test_a_steward_may_not_seat_someone_else_either(steward, dac, applicant):
    assert add(steward, dac, "alice").status_code == 403
    assert dac.members.count() == 0


def test_an_applicant_or_a_member_of_another_dac_is_refused(other_dac_member, dac, applicant):
    assert add(applicant, dac, "alice").status_code == 403
    assert add(other_dac_member, dac, "alice").status_code == 403
    assert add(other_dac_member, dac, other_dac_member.username).status_code == 403


def test_a_member_adds_a_colleague_audited_and_mailed_to_the_members(
    dac, dac_member, applicant, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = add(dac_member, dac, "alice")
    assert response.status_code == 201 and sorted(response.json()["members"]) == ["alice", "carol"]
    event = AuditEvent.objects.get(action="catalogue.dac.member_added")
    assert event.actor == dac_member and event.target_id == dac.accession
    assert event.details["username"] == "alice" and event.details["by_operator"] is False
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert set(mail.to) == {"carol@example.org", "alice@example.org"}
    assert "alice" in mail.body and "carol" in mail.body and dac.accession in mail.body


def test_an_operator_seats_the_first_member(admin_user, dac, applicant, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert add(admin_user, dac, "alice").status_code == 201
    assert AuditEvent.objects.get(action="catalogue.dac.member_added").details["by_operator"] is True
    assert [m.to for m in mailoutbox] == [["alice@example.org"]]


def test_removal_is_mailed_to_the_members_and_the_person_removed(
    admin_user, dac, dac_member, applicant, mailoutbox, django_capture_on_commit_callbacks
):
    dac.members.add(applicant)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser(admin_user).post(
            f"/admin/catalogue/dac/{dac.pk}/change/", {"description": "", "contact_email": "", "remove_member": "alice"}
        )
    assert response.status_code == 302
    assert not dac.members.filter(pk=applicant.pk).exists()
    assert member_events() == ["catalogue.dac.member_removed"]
    assert set(mailoutbox[0].to) == {"carol@example.org", "alice@example.org"}
    assert "removed" in mailoutbox[0].subject


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_refuses_a_steward_seating_themselves(steward, dac, mailoutbox, django_capture_on_commit_callbacks):
    change = f"/admin/catalogue/dac/{dac.pk}/change/"
    page = browser(steward).get(change)
    assert page.status_code == 200 and 'name="add_member"' not in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # a forged form changes nothing either
        browser(steward).post(change, {"description": "", "contact_email": "", "add_member": steward.username})
    assert not dac.members.filter(pk=steward.pk).exists()
    assert member_events() == [] and mailoutbox == []

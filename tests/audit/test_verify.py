"""audit_verify walks the hash chain and names the first broken link (once events are sealed)."""

import pytest
from django.core.management import CommandError, call_command

from gdi_archive.audit.models import AuditEvent
from gdi_archive.audit.services import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(applicant):
    events = [record(action="test.event", actor=applicant, target=applicant, details={"n": n}) for n in range(5)]
    call_command("audit_seal")
    return events


def test_intact_chain(chain, capsys):
    call_command("audit_verify")
    assert "5 events checked" in capsys.readouterr().out


def test_edited_row_is_found(chain):
    AuditEvent.objects.filter(pk=chain[2].pk).update(details={"n": 99})  # as a tamperer with database access would
    with pytest.raises(CommandError) as err:
        call_command("audit_verify")
    assert f"event {chain[2].pk}" in str(err.value) and "changed" in str(err.value)


def test_edited_actor_is_found(chain):
    AuditEvent.objects.filter(pk=chain[1].pk).update(actor_name="mallory")
    with pytest.raises(CommandError, match=f"event {chain[1].pk}"):
        call_command("audit_verify")


def test_deleted_row_is_found(chain):
    AuditEvent.objects.filter(pk=chain[3].pk).delete()
    with pytest.raises(CommandError) as err:
        call_command("audit_verify")
    assert f"event {chain[4].pk}" in str(err.value) and "deleted" in str(err.value)


def test_rows_refuse_changes_through_the_model(chain):
    event = chain[0]
    event.action = "other"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()


def test_secrets_are_dropped(applicant):
    event = record(action="test.secret", actor=applicant, details={"password": "x", "token": "y", "ok": 1})
    assert event.details == {"ok": 1}


def test_admin_is_read_only_and_for_operators(admin_user, dac_member, chain):
    from django.test import Client

    operator = Client()
    operator.force_login(admin_user)
    page = operator.get("/admin/audit/auditevent/?action=test.event")
    assert page.status_code == 200 and "test.event" in page.content.decode()
    assert operator.get(f"/admin/audit/auditevent/{chain[0].pk}/change/").status_code == 200
    assert operator.post(f"/admin/audit/auditevent/{chain[0].pk}/delete/").status_code == 403
    assert operator.get("/admin/audit/auditevent/add/").status_code == 403
    member = Client()
    member.force_login(dac_member)
    assert member.get("/admin/audit/auditevent/").status_code == 403


def test_events_deleted_from_the_end_are_found_with_the_logged_head(
    applicant, caplog, django_capture_on_commit_callbacks
):
    with caplog.at_level("INFO", logger="gdi_archive.audit.head"):
        for n in range(3):
            record(action="test.event", actor=applicant, details={"n": n})
            with django_capture_on_commit_callbacks(execute=True):
                call_command("audit_seal")  # the sealer logs the newest link it wrote
    head = caplog.records[-1].getMessage().removeprefix("audit head ")
    assert len(caplog.records) == 3
    newest = AuditEvent.objects.order_by("-id").first()
    assert head == f"{newest.pk}:{newest.hash}"
    call_command("audit_verify", "--head", head)

    AuditEvent.objects.filter(pk=newest.pk).delete()  # as a tamperer with database access would; the rest is intact
    call_command("audit_verify")
    with pytest.raises(CommandError, match="deleted from the end"):
        call_command("audit_verify", "--head", head)


def test_what_clients_send_is_stored_even_with_a_nul_and_the_chain_holds(applicant):
    """Details often hold client input; PostgreSQL refuses NUL, so it is replaced, not a 500."""
    record(
        action="test.event",
        actor="broker-subject\x00x" + "y" * 300,
        target="t\x00" * 80,
        details={"range": "bytes=\x000-", "names": ["a\x00b"], "nested": {"k\x00": "v"}},
    )
    event = AuditEvent.objects.get()
    assert event.details == {"range": "bytes=\ufffd0-", "names": ["a\ufffdb"], "nested": {"k\ufffd": "v"}}
    assert "\x00" not in event.actor_name + event.target_id
    call_command("audit_verify")

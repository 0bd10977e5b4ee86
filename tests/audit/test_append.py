"""The lean append path: details cleaned and serialised once must still hash exactly what the
database gives back (else audit_verify would call an honest event tampered), secrets never
stored, every INSERT still a query Django sees, and a closed connection no obstacle."""

import datetime
import enum
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from gdi_archive.audit.models import AuditEvent
from gdi_archive.audit.services import content_hash, record

pytestmark = pytest.mark.django_db


class Colour(enum.IntEnum):
    RED = 1


class Name(str, enum.Enum):  # noqa: UP042 (str() of this kind is "Name.ALICE"; JSON writes "alice")
    ALICE = "alice"


ODD = {
    "plain": "GDID00000000001",
    "nul": "a\x00b",
    "n": 3,
    "ratio": 0.1,
    "flag": True,
    "nothing": None,
    1: "an int key",
    2.5: "a float key",
    None: "a None key",
    "tuple": (1, "two", [3, {"Password": "nested secret"}]),
    "when": datetime.datetime(2026, 12, 2, 17, 0, tzinfo=datetime.UTC),
    "amount": Decimal("1.50"),
    "colour": Colour.RED,
    "name": Name.ALICE,
    "nested": {"api_key": "x", "Authorization": "Bearer y", "kept": {"deeper": "z\x00"}},
    "key\x00with nul": "v",
    "Refresh_Token": "dropped",
}


def _old_way(details):
    """What main's `_event` did: clean, round-trip through JSON, clean again."""
    from gdi_archive.audit.services import _SECRET_WORDS, _printable

    def clean(d):
        return {_printable(k): value(v) for k, v in d.items() if not any(w in str(k).lower() for w in _SECRET_WORDS)}

    def value(v):
        if isinstance(v, dict):
            return clean(v)
        if isinstance(v, (list, tuple)):
            return [value(i) for i in v]
        return _printable(v)

    return value(json.loads(json.dumps(clean(details), default=str)))


def test_odd_details_are_stored_as_hashed_and_verify(applicant, capsys):
    event = record(action="test.odd", actor=applicant, target=applicant, details=ODD)
    assert event.details == _old_way(ODD)
    row = AuditEvent.objects.get(pk=event.pk)
    assert row.details == event.details
    fields = {
        name: getattr(row, name)
        for name in ("at", "actor_name", "action", "target_type", "target_id", "client_address", "details")
    }
    assert content_hash(**fields) == row.content_hash == event.content_hash
    stored = json.dumps(row.details)
    for secret in ("nested secret", "Bearer", "dropped", "\\u0000"):
        assert secret not in stored
    call_command("audit_verify")
    assert "1 events checked" in capsys.readouterr().out


def test_the_returned_event_is_the_row(applicant):
    event = record(action="test.row", actor=applicant, target=applicant, details={"n": 1})
    row = AuditEvent.objects.get(pk=event.pk)
    assert (event.actor_id, event.actor, event.action, event.target_id) == (
        row.actor_id,
        applicant,
        row.action,
        str(applicant.pk),
    )
    assert event.at == row.at and event._state.adding is False


def test_every_append_is_one_query_django_sees(applicant):
    record(action="test.warm", actor=applicant)
    with CaptureQueriesContext(connection) as queries:
        record(action="test.seen", actor=applicant, details={"n": 1})
    assert len(queries) == 1 and "INSERT INTO" in queries[0]["sql"]


@pytest.mark.django_db(transaction=True)
def test_an_append_after_the_connection_closed_opens_a_new_one(applicant):
    record(action="test.before", actor=applicant)
    connection.close()
    record(action="test.after", actor=applicant)
    with transaction.atomic():
        record(action="test.inside", actor=applicant)
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.before", "test.after", "test.inside"]
    call_command("audit_verify")


@pytest.mark.django_db(transaction=True)
def test_threads_append_on_their_own_connections(applicant):
    """The kept cursor belongs to one thread's connection: threads appending at once (gthread
    workers) never share one."""
    import threading

    from django.db import connections

    def write(name):
        try:
            for n in range(20):
                record(action="test.thread", actor=name, details={"n": n})
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(f"thread-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert AuditEvent.objects.filter(action="test.thread").count() == 80
    call_command("audit_verify")


def test_a_deleted_user_leaves_the_event_and_its_name(applicant):
    event = record(action="test.actor", actor=applicant)
    applicant.delete()
    row = AuditEvent.objects.get(pk=event.pk)
    assert row.actor_id is None and row.actor_name == "alice"


def _prepared_appends():
    """The audit INSERTs prepared in this connection's PostgreSQL session."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["INSERT INTO audit_auditevent %"]
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_append_is_prepared_once_per_connection_and_again_on_a_new_one(applicant):
    for n in range(3):
        record(action="test.prepared", actor=applicant, details={"n": n})
    assert _prepared_appends() == 1
    connection.close()  # as a failed health check or CONN_MAX_AGE would
    assert _prepared_appends() == 0
    record(action="test.prepared", actor=applicant, details={"n": 3})
    record(action="test.prepared", actor=applicant, details={"n": 4})
    assert _prepared_appends() == 1
    assert AuditEvent.objects.filter(action="test.prepared").count() == 5
    call_command("audit_verify")


@pytest.mark.django_db(transaction=True)
def test_an_append_rolled_back_with_its_change_is_gone_and_the_next_one_is_kept(applicant):
    """psycopg forgets its prepared statements at a rollback (DEALLOCATE ALL): the next append
    prepares again instead of naming a statement the session no longer has."""
    record(action="test.kept", actor=applicant)
    with pytest.raises(RuntimeError), transaction.atomic():
        record(action="test.rolled_back", actor=applicant)
        raise RuntimeError("the change failed")
    record(action="test.kept", actor=applicant)
    with transaction.atomic():
        record(action="test.kept", actor=applicant)
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.kept"] * 3
    assert _prepared_appends() == 1
    call_command("audit_verify")


@pytest.mark.django_db(transaction=True)
def test_with_prepared_statements_off_the_append_is_not_prepared(applicant):
    """DATABASE_PREPARED_STATEMENTS=false (for poolers that lose them) sets psycopg's
    prepare_threshold to None: the append is then bound server-side and never prepared."""
    connection.ensure_connection()
    connection.connection.prepare_threshold = None
    for n in range(3):
        record(action="test.unprepared", actor=applicant, details={"n": n})
    assert _prepared_appends() == 0
    assert AuditEvent.objects.filter(action="test.unprepared").count() == 3
    call_command("audit_verify")


def test_an_append_in_a_broken_transaction_is_refused(applicant):
    """As Django's cursor does: after a database error inside atomic(), no further query."""
    from django.db import DatabaseError
    from django.db.transaction import TransactionManagementError

    with transaction.atomic():
        with pytest.raises(DatabaseError), transaction.atomic(savepoint=False):
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 / 0")
        with pytest.raises(TransactionManagementError):
            record(action="test.broken", actor=applicant)

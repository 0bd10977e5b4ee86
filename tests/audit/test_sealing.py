"""Appends take no lock; the sealer chains them; tampering after sealing is found; concurrent
writers in several processes give one valid chain; refusals outlive a rolled back transaction."""

import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from gdi_archive.audit.models import AuditEvent
from gdi_archive.audit.services import close_refusal_connection, record, record_refusal

from ..conftest import REPO

pytestmark = pytest.mark.django_db


@pytest.fixture
def sealed(applicant):
    events = [record(action="test.event", actor=applicant, details={"n": n}) for n in range(6)]
    call_command("audit_seal")
    return [AuditEvent.objects.get(pk=e.pk) for e in events]


def _broken_at(event_id):
    with pytest.raises(CommandError) as err:
        call_command("audit_verify")
    assert f"event {event_id}" in str(err.value)
    return str(err.value)


def test_appended_events_are_unsealed_until_the_sealer_chains_them(applicant, capsys):
    event = record(action="test.event", actor=applicant)
    row = AuditEvent.objects.get(pk=event.pk)
    if connection.vendor == "postgresql":
        assert row.seq is None and row.hash is None and row.content_hash
    call_command("audit_seal")
    row = AuditEvent.objects.get(pk=event.pk)
    assert row.seq is not None and len(row.hash) == 64
    call_command("audit_verify")
    assert "1 events checked" in capsys.readouterr().out


def test_edit_after_sealing_is_found(sealed):
    AuditEvent.objects.filter(pk=sealed[2].pk).update(details={"n": 99})
    assert "changed" in _broken_at(sealed[2].pk)


def test_edit_with_a_recomputed_content_hash_is_found(sealed):
    from gdi_archive.audit.services import content_hash

    row = sealed[2]
    fields = {
        name: getattr(row, name)
        for name in ("at", "actor_name", "action", "target_type", "target_id", "client_address")
    }
    forged = content_hash(**fields, details={"n": 99})
    AuditEvent.objects.filter(pk=row.pk).update(details={"n": 99}, content_hash=forged)
    assert "changed" in _broken_at(row.pk)


def test_delete_after_sealing_is_found(sealed):
    AuditEvent.objects.filter(pk=sealed[3].pk).delete()
    assert "deleted" in _broken_at(sealed[4].pk)


def test_insert_into_the_chain_is_found(sealed):
    forged = sealed[3]
    AuditEvent.objects.filter(seq__gt=forged.seq).update(seq=models_f_plus_one())
    AuditEvent.objects.create(
        at=forged.at,
        actor_name="mallory",
        action="test.event",
        details={"n": 3.5},
        content_hash=forged.content_hash,
        seq=forged.seq + 1,
        previous_hash=forged.hash,
        hash="f" * 64,
    )
    _broken_at(AuditEvent.objects.get(actor_name="mallory").pk)


def models_f_plus_one():
    from django.db.models import F

    return F("seq") + 1000


def test_reorder_after_sealing_is_found(sealed):
    a, b = sealed[1], sealed[2]
    AuditEvent.objects.filter(pk=a.pk).update(seq=None)
    AuditEvent.objects.filter(pk=b.pk).update(seq=a.seq)
    AuditEvent.objects.filter(pk=a.pk).update(seq=b.seq)
    _broken_at(b.pk)


def test_renumbered_event_is_found(sealed):
    last = sealed[-1]
    AuditEvent.objects.filter(pk=last.pk).update(id=last.pk + 1000)
    _broken_at(last.pk + 1000)


def test_unsealing_a_row_to_move_it_to_the_end_is_found(sealed):
    AuditEvent.objects.filter(pk=sealed[1].pk).update(seq=None, previous_hash=None, hash=None)
    _broken_at(sealed[2].pk)


def test_an_event_committed_late_is_sealed_after_the_ones_already_chained(applicant):
    """The gap case: an id taken first but committed after later ids were sealed is not lost
    and breaks nothing; it takes the next place in the chain."""
    early = record(action="test.early", actor=applicant)
    AuditEvent.objects.filter(pk=early.pk).update(id=early.pk + 10)  # as if its transaction were still open
    later = record(action="test.later", actor=applicant)
    AuditEvent.objects.filter(pk=early.pk + 10).update(id=early.pk)
    call_command("audit_seal")
    call_command("audit_verify")
    assert AuditEvent.objects.filter(seq__isnull=True).count() == 0
    assert AuditEvent.objects.get(pk=later.pk).seq is not None


def test_an_event_rolled_back_with_its_change_is_gone_and_the_chain_holds(applicant):
    record(action="test.kept", actor=applicant)
    with pytest.raises(RuntimeError), transaction.atomic():
        record(action="test.rolled_back", actor=applicant)  # its id is used up: a gap in ids
        raise RuntimeError("the change failed")
    record(action="test.kept", actor=applicant)
    call_command("audit_verify")
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.kept", "test.kept"]


@pytest.mark.django_db(transaction=True)
def test_a_refusal_outlives_the_rolled_back_transaction(applicant):
    with pytest.raises(RuntimeError), transaction.atomic():
        record(action="test.change", actor=applicant)
        record_refusal(action="test.refused", actor=applicant, details={"why": "blocked"})
        raise RuntimeError("refused")
    close_refusal_connection()
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.refused"]
    call_command("audit_verify")
    assert AuditEvent.objects.get().seq is not None


WRITER = """
import os, sys, django
sys.path.insert(0, {repo!r})
django.setup()
from gdi_archive.audit.services import record
from django.db import transaction
for n in range({count}):
    with transaction.atomic():
        record(action="test.concurrent", actor="writer-" + sys.argv[1], details={{"n": n}})
    if n % 10 == 0:
        from gdi_archive.audit.sealing import seal
        seal()  # a sealer racing the writers, as the beat job would
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(os.environ.get("DATABASE_URL", "").startswith("sqlite"), reason="several processes need PostgreSQL")
def test_writers_in_several_processes_give_one_valid_chain(capsys):
    name = connection.settings_dict["NAME"]
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="gdi_archive.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{name}",
        LOG_LEVEL="ERROR",
        DEBUG="false",  # as in production: the prepared append, not the logged cursor
    )
    code = WRITER.format(repo=str(REPO), count=40)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(i)], env=env, cwd=REPO) for i in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    call_command("audit_verify")
    assert "160 events checked" in capsys.readouterr().out
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert len(seqs) == 160 and len(set(seqs)) == 160

"""The sealer: gives appended events their place in the hash chain, a batch at a time.

Requests only INSERT (no lock, no read of the chain's end). One sealer at a time, under a lock
of its own that requests never take, reads the events nobody has sealed yet in id order, links
each to the one before it and writes `seq`, `previous_hash` and `hash`.

The chain's order is the order of sealing, not of ids: an event whose transaction commits
after a later id was already sealed (the sequence hands out ids at INSERT, commits come in any
order) is simply sealed in the next round, after it. So the sealer never waits for a gap, never
skips one for good, and an id a rolled back transaction took and never used is no gap in the
chain at all (the chain links `seq`, not ids). See docs/reliability.md, "Audit log".
"""

import logging

from django.db import connection, transaction

from .models import AuditEvent
from .services import GENESIS, head_log, link_hash

SEAL_LOCK = 7249002  # pg advisory lock key; 7249001 was the old per-append lock
log = logging.getLogger(__name__)


def seal(*, batch_size: int = 5000, wait: bool = False) -> int:
    """Seal every event committed so far; returns how many. With `wait`, wait for a sealer
    already at work (audit_verify does, so it checks a sealed log); else leave it to that one."""
    sealed = 0
    while True:
        with transaction.atomic():
            if not _lock(wait):
                return sealed
            count = _seal_batch(batch_size)
        sealed += count
        if count < batch_size:
            return sealed


def _lock(wait: bool) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: the transaction itself is the one writer
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK])
        return cursor.fetchone()[0]


def _seal_batch(batch_size: int) -> int:
    pending = list(
        AuditEvent.objects.filter(seq__isnull=True, content_hash__isnull=False)
        .order_by("id")
        .values_list("id", "content_hash")[:batch_size]
    )
    if not pending:
        return 0
    end = AuditEvent.objects.filter(seq__isnull=False).order_by("-seq").values_list("seq", "hash").first()
    seq, previous = end if end else (0, GENESIS)
    rows = []
    for event_id, event_content_hash in pending:
        seq += 1
        digest = link_hash(previous, event_id, event_content_hash)
        rows.append((seq, previous, digest, event_id))
        previous = digest
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET seq = %s, previous_hash = %s, hash = %s WHERE id = %s AND seq IS NULL", rows
        )
    head_id, head_hash = rows[-1][3], rows[-1][2]
    # The newest link also goes to the log stream (shipped off this host), so a log cut back
    # from the end can be noticed: `audit_verify --head ID:HASH` with the last one logged.
    transaction.on_commit(lambda: head_log.info("audit head %s:%s", head_id, head_hash))
    return len(rows)

"""Walk the chain in sealed order: each event's content must match its content hash, and its
link must name the link before it; events not sealed yet must match their content hash."""

from dataclasses import dataclass

from .models import AuditEvent
from .services import GENESIS, content_hash, event_hash, link_hash

CONTENT = ("at", "actor_name", "action", "target_type", "target_id", "client_address", "details")
FIELDS = ("id", "seq", *CONTENT, "content_hash", "previous_hash", "hash")


@dataclass(frozen=True)
class Break:
    event_id: int
    reason: str


@dataclass(frozen=True)
class Report:
    checked: int
    unsealed: int
    broken: Break | None


def check(batch_size: int = 2000, head: tuple[int, str] | None = None, seal_first: bool = True) -> Report:
    """Seal what is committed (so the check covers it), then walk the chain in batches (memory
    stays flat). The chain alone cannot show that its newest events were deleted; `head` (an
    event id and hash taken from the log stream) must still be there, unchanged."""
    if seal_first:
        from .sealing import seal

        seal(wait=True)
    checked, broken = _walk(batch_size)
    unsealed = 0
    if broken is None:
        unsealed, broken = _unsealed(batch_size)
    if broken is None and head is not None:
        head_id, head_hash = head
        if not AuditEvent.objects.filter(pk=head_id, hash=head_hash, seq__isnull=False).exists():
            broken = Break(
                head_id,
                f"event {head_id}, logged as the newest at some point, is missing or changed: "
                "events were deleted from the end of the log",
            )
    return Report(checked, unsealed, broken)


def first_break(batch_size: int = 2000, head: tuple[int, str] | None = None) -> tuple[int, Break | None]:
    """(events checked, the first broken link or None)."""
    report = check(batch_size, head)
    return report.checked, report.broken


def _content(row: dict) -> str:
    return content_hash(**{name: row[name] for name in CONTENT})


def _walk(batch_size: int) -> tuple[int, Break | None]:
    previous_hash, checked, last_seq, last_id = GENESIS, 0, None, None
    while True:
        rows = AuditEvent.objects.filter(seq__isnull=False).order_by("seq").values(*FIELDS)
        if last_seq is not None:
            rows = rows.filter(seq__gt=last_seq)
        rows = list(rows[:batch_size])
        if not rows:
            return checked, None
        for row in rows:
            row_id = row["id"]
            if row["previous_hash"] != previous_hash:
                return checked, Break(
                    row_id,
                    f"event {row_id} does not follow the event before it "
                    f"(after event {last_id or 'start'}): a row was deleted, inserted or moved",
                )
            if row["content_hash"] is None:  # written before sealing existed: the old link
                expected = event_hash(previous_hash=row["previous_hash"], **{name: row[name] for name in CONTENT})
            elif _content(row) != row["content_hash"]:
                return checked, Break(
                    row_id, f"event {row_id} was changed after it was written (its content hash does not match)"
                )
            else:
                expected = link_hash(row["previous_hash"], row_id, row["content_hash"])
            if expected != row["hash"]:
                return checked, Break(
                    row_id, f"event {row_id} was changed after it was written (its hash does not match)"
                )
            previous_hash, last_seq, last_id = row["hash"], row["seq"], row_id
            checked += 1


def _unsealed(batch_size: int) -> tuple[int, Break | None]:
    """Events appended after the seal (their transactions committed meanwhile): content only."""
    count, last_id = 0, 0
    while True:
        rows = list(
            AuditEvent.objects.filter(seq__isnull=True, id__gt=last_id).order_by("id").values(*FIELDS)[:batch_size]
        )
        if not rows:
            return count, None
        for row in rows:
            if row["content_hash"] is None or _content(row) != row["content_hash"]:
                return count, Break(row["id"], f"event {row['id']} (not sealed yet) does not match its content hash")
            last_id = row["id"]
            count += 1

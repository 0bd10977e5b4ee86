"""Walk the chain: each row's hash must match its content, and name the row before it."""

from dataclasses import dataclass

from .models import AuditEvent
from .services import GENESIS, event_hash

FIELDS = ("id", "at", "actor_name", "action", "target_type", "target_id", "client_address", "details",
          "previous_hash", "hash")


@dataclass(frozen=True)
class Break:
    event_id: int
    reason: str


def first_break(batch_size: int = 2000, head: tuple[int, str] | None = None) -> tuple[int, Break | None]:
    """(events checked, the first broken link or None). Reads in batches; memory stays flat.

    The chain alone cannot show that its newest events were deleted; `head` (an event id and
    hash taken from the log stream) must still be there, unchanged.
    """
    checked, broken = _walk(batch_size)
    if broken is None and head is not None:
        head_id, head_hash = head
        if not AuditEvent.objects.filter(pk=head_id, hash=head_hash).exists():
            broken = Break(head_id, f"event {head_id}, logged as the newest at some point, is missing or changed: "
                                    "events were deleted from the end of the log")
    return checked, broken


def _walk(batch_size: int) -> tuple[int, Break | None]:
    previous_hash, checked, last_id = GENESIS, 0, 0
    while True:
        rows = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id").values_list(*FIELDS)[:batch_size])
        if not rows:
            return checked, None
        for row_id, at, actor_name, action, target_type, target_id, client_address, details, row_previous, row_hash in rows:
            if row_previous != previous_hash:
                return checked, Break(row_id, f"event {row_id} does not follow the event before it "
                                              f"(after event {last_id or 'start'}): a row was deleted or inserted")
            expected = event_hash(previous_hash=row_previous, at=at, actor_name=actor_name, action=action,
                                  target_type=target_type, target_id=target_id, client_address=client_address, details=details)
            if expected != row_hash:
                return checked, Break(row_id, f"event {row_id} was changed after it was written (its hash does not match)")
            previous_hash, last_id = row_hash, row_id
            checked += 1

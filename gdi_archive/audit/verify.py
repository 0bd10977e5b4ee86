"""Walk the chain: each row's hash must match its content, and name the row before it."""

from dataclasses import dataclass

from .models import AuditEvent
from .services import GENESIS, event_hash


@dataclass(frozen=True)
class Break:
    event_id: int
    reason: str


def first_break(batch_size: int = 2000) -> tuple[int, Break | None]:
    """(events checked, the first broken link or None). Reads in batches; memory stays flat."""
    previous_hash, checked, last_id = GENESIS, 0, 0
    while True:
        rows = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not rows:
            return checked, None
        for row in rows:
            if row.previous_hash != previous_hash:
                return checked, Break(row.id, f"event {row.id} does not follow the event before it "
                                              f"(after event {last_id or 'start'}): a row was deleted or inserted")
            expected = event_hash(previous_hash=row.previous_hash, at=row.at, actor_name=row.actor_name, action=row.action,
                                  target_type=row.target_type, target_id=row.target_id,
                                  client_address=row.client_address, details=row.details)
            if expected != row.hash:
                return checked, Break(row.id, f"event {row.id} was changed after it was written (its hash does not match)")
            previous_hash, last_id = row.hash, row.id
            checked += 1

"""Write to the audit log. Call `record` inside the same transaction as the change it describes."""

import hashlib
import json
import logging

from django.db import connection, transaction
from django.utils import timezone

from .models import AuditEvent

GENESIS = "0" * 64
head_log = logging.getLogger("gdi_archive.audit.head")
_SECRET_WORDS = ("password", "secret", "token", "passphrase", "private", "authorization", "api_key")


def _client_address(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _clean(details: dict) -> dict:
    """Drop anything that looks like a secret: the log must never hold one."""
    clean = {}
    for key, value in (details or {}).items():
        if any(word in str(key).lower() for word in _SECRET_WORDS):
            continue
        clean[_printable(key)] = _clean_value(value)
    return clean


def _clean_value(value):
    if isinstance(value, dict):
        return _clean(value)
    if isinstance(value, (list, tuple)):
        return [_clean_value(item) for item in value]
    return _printable(value)


def _printable(value):
    """Details often hold what a client sent (a Range header, a name); a NUL in it cannot be
    stored (PostgreSQL's jsonb and text refuse it), so it is shown as U+FFFD instead."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def event_hash(*, previous_hash: str, at, actor_name: str, action: str, target_type: str, target_id: str,
               client_address: str | None, details: dict) -> str:
    body = json.dumps(
        [previous_hash, at.isoformat(), actor_name, action, target_type, target_id, client_address or "", details],
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(*, action: str, actor=None, target=None, request=None, details: dict | None = None) -> AuditEvent:
    """Append one event (action is dotted: "access.request.approved")."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # One writer at a time, so the chain has no forks; released at commit.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(7249001)")
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        previous_hash = last or GENESIS
        actor_user = actor if getattr(actor, "pk", None) else None
        actor_name = actor.get_username() if actor_user else (str(actor) if actor else "")
        target_type = target._meta.label_lower if target is not None and hasattr(target, "_meta") else ""
        target_id = ""
        if target is not None:
            target_id = str(getattr(target, "accession", None) or getattr(target, "pk", "") or target)
        # Round-trip details through JSON so the hash sees what the database will give back.
        details = _clean_value(json.loads(json.dumps(_clean(details or {}), default=str)))
        fields = dict(
            at=timezone.now(), actor_name=_printable(actor_name)[:255], action=action, target_type=target_type,
            target_id=_printable(target_id)[:100], client_address=_client_address(request), details=details,
        )
        digest = event_hash(previous_hash=previous_hash, **fields)
        event = AuditEvent.objects.create(actor=actor_user, previous_hash=previous_hash, hash=digest, **fields)
        # The newest link also goes to the log stream (shipped off this host), so a log cut back
        # from the end can be noticed: `audit_verify --head ID:HASH` with the last one logged.
        transaction.on_commit(lambda: head_log.info("audit head %s:%s", event.pk, digest))
        return event

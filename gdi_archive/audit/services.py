"""Write to the audit log. Call `record` inside the same transaction as the change it describes;
`record_refusal` for refusals that must outlive a rolled back transaction."""

import hashlib
import json
import logging
import threading

from django.core.signals import request_finished
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from gdi_archive.common.clients import client_address

from .models import AuditEvent

GENESIS = "0" * 64
head_log = logging.getLogger("gdi_archive.audit.head")
_SECRET_WORDS = ("password", "secret", "token", "passphrase", "private", "authorization", "api_key")


def _client_address(request) -> str | None:
    return client_address(request) or None


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


def event_hash(
    *,
    previous_hash: str,
    at,
    actor_name: str,
    action: str,
    target_type: str,
    target_id: str,
    client_address: str | None,
    details: dict,
) -> str:
    """The chain link of events written before sealing existed (their `content_hash` is empty)."""
    return hashlib.sha256(
        _canonical(previous_hash, at, actor_name, action, target_type, target_id, client_address, details)
    ).hexdigest()


def content_hash(
    *, at, actor_name: str, action: str, target_type: str, target_id: str, client_address: str | None, details: dict
) -> str:
    """What one event says, on its own: written with the event, chained later by the sealer."""
    return hashlib.sha256(
        _canonical("", at, actor_name, action, target_type, target_id, client_address, details)
    ).hexdigest()


def link_hash(previous_hash: str, event_id: int, event_content_hash: str) -> str:
    """A sealed event's place in the chain: the previous link, its own id and content."""
    return hashlib.sha256(f"{previous_hash}:{event_id}:{event_content_hash}".encode()).hexdigest()


def _canonical(previous_hash, at, actor_name, action, target_type, target_id, client_address, details) -> bytes:
    return json.dumps(
        [previous_hash, at.isoformat(), actor_name, action, target_type, target_id, client_address or "", details],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    ).encode()


def _event(*, action: str, actor, target, request, details: dict | None) -> AuditEvent:
    actor_user = actor if getattr(actor, "pk", None) else None
    actor_name = actor.get_username() if actor_user else (str(actor) if actor else "")
    target_type = target._meta.label_lower if target is not None and hasattr(target, "_meta") else ""
    target_id = ""
    if target is not None:
        target_id = str(getattr(target, "accession", None) or getattr(target, "pk", "") or target)
    # Round-trip details through JSON so the hash sees what the database will give back.
    details = _clean_value(json.loads(json.dumps(_clean(details or {}), default=str)))
    fields = dict(
        at=timezone.now(),
        actor_name=_printable(actor_name)[:255],
        action=action,
        target_type=target_type,
        target_id=_printable(target_id)[:100],
        client_address=_client_address(request),
        details=details,
    )
    return AuditEvent(actor=actor_user, content_hash=content_hash(**fields), **fields)


def record(*, action: str, actor=None, target=None, request=None, details: dict | None = None) -> AuditEvent:
    """Append one event (action is dotted: "access.request.approved"), in the caller's transaction:
    it is kept exactly when the change it describes is. One INSERT, no lock: the sealer chains it
    within seconds (docs/reliability.md, "Audit log")."""
    event = _event(action=action, actor=actor, target=target, request=request, details=details)
    if connection.vendor == "postgresql":
        _insert(connection, event)  # the ORM's INSERT compiler costs more than the INSERT itself
        return event
    event.save(force_insert=True)
    # The embedded default has one writer at a time anyway: seal at once, in the same transaction.
    from .sealing import seal

    seal()
    return event


def record_refusal(*, action: str, actor=None, target=None, request=None, details: dict | None = None) -> AuditEvent:
    """Append an event about a refusal or a failure that must be kept even when the caller's
    transaction then rolls back (the change was refused; the attempt still happened).

    On PostgreSQL it is written on a connection of its own, committed at once. The embedded
    SQLite default cannot write beside an open transaction: there it joins the caller's one.
    """
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return record(action=action, actor=actor, target=target, request=request, details=details)
    event = _event(action=action, actor=actor, target=target, request=request, details=details)
    _insert(_beside_connection(), event)
    return event


_beside = threading.local()


def _beside_connection():
    """A second, autocommit connection to the same database (one per thread)."""
    side = getattr(_beside, "connection", None)
    if side is None or not side.is_usable():
        if side is not None:
            side.close()
        side = _beside.connection = connections.create_connection(DEFAULT_DB_ALIAS)
    return side


def _insert(conn, event: AuditEvent) -> None:
    """One INSERT (PostgreSQL) of an unsealed event; sets its id."""
    with conn.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AuditEvent._meta.db_table} (at, actor_id, actor_name, action, target_type, target_id,"
            " client_address, details, content_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s) RETURNING id",
            [
                event.at,
                event.actor_id,
                event.actor_name,
                event.action,
                event.target_type,
                event.target_id,
                event.client_address,
                json.dumps(event.details),
                event.content_hash,
            ],
        )
        event.pk = cursor.fetchone()[0]
    event._state.adding, event._state.db = False, DEFAULT_DB_ALIAS


def close_refusal_connection(**kwargs) -> None:
    """Close this thread's second connection (at the end of each request, and in tests)."""
    side = getattr(_beside, "connection", None)
    if side is not None:
        side.close()
        _beside.connection = None


request_finished.connect(close_refusal_connection, dispatch_uid="audit-close-refusal-connection")

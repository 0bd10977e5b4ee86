"""Write to the audit log. Call `record` inside the same transaction as the change it describes;
`record_refusal` for refusals that must outlive a rolled back transaction."""

import hashlib
import json
import logging
import re
import threading

import psycopg
from django.core.signals import request_finished
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from gdi_archive.common.clients import client_address

from .models import AuditEvent

GENESIS = "0" * 64
head_log = logging.getLogger("gdi_archive.audit.head")
_SECRET_WORDS = ("password", "secret", "token", "passphrase", "private", "authorization", "api_key")


_SECRET = re.compile("|".join(_SECRET_WORDS), re.IGNORECASE)


def _client_address(request) -> str | None:
    return client_address(request) or None


def _clean(details: dict) -> dict:
    """Drop anything that looks like a secret (the log must never hold one) and turn the rest
    into what the database gives back, in one pass: JSON's own key and value conversions, any
    other object as its `str`, NUL shown as U+FFFD."""
    clean = {}
    for key, value in (details or {}).items():
        if type(key) is not str:
            if _SECRET.search(str(key)):
                continue
            key = _json_key(key)
        if _SECRET.search(key):
            continue
        clean[_printable(key)] = _clean_value(value)
    return clean


def _clean_value(value):
    kind = type(value)
    if kind is str:
        return _printable(value)
    if value is None or kind is int or kind is float or kind is bool:
        return value
    if isinstance(value, dict):
        return _clean(value)
    if isinstance(value, (list, tuple)):
        return [_clean_value(item) for item in value]
    if isinstance(value, str):
        return _printable(str.__str__(value))  # JSON writes a str subclass's characters
    if isinstance(value, int):
        return int(value)  # an IntEnum: JSON writes the number
    if isinstance(value, float):
        return float(value)
    return _printable(str(value))


def _json_key(key) -> str:
    """The key JSON writes for a non-str dict key (and refuses the ones it cannot)."""
    return json.loads(json.dumps({key: 0})).popitem()[0]


def _printable(value):
    """Details often hold what a client sent (a Range header, a name); a NUL in it cannot be
    stored (PostgreSQL's jsonb and text refuse it), so it is shown as U+FFFD instead."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


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


def _details_json(details: dict) -> str:
    """The canonical JSON of cleaned details: hashed and stored as it is (serialised once)."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"))


def _canonical(previous_hash, at, actor_name, action, target_type, target_id, client_address, details) -> bytes:
    return _canonical_with(
        previous_hash,
        at,
        actor_name,
        action,
        target_type,
        target_id,
        client_address,
        json.dumps(details, sort_keys=True, separators=(",", ":"), default=str),
    )


def _canonical_with(
    previous_hash, at, actor_name, action, target_type, target_id, client_address, details_json: str
) -> bytes:
    """The hashed bytes: a compact JSON list of the fields, the details (already canonical JSON,
    `_details_json`) as its last item, so that an append serialises them only once."""
    head = json.dumps(
        [previous_hash, at.isoformat(), actor_name, action, target_type, target_id, client_address or ""],
        separators=(",", ":"),
    )
    return f"{head[:-1]},{details_json}]".encode()


_INSERT = (
    f"INSERT INTO {AuditEvent._meta.db_table} (at, actor_id, actor_name, action, target_type, target_id,"
    " client_address, details, content_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s) RETURNING id"
)
_ATTNAMES = [field.attname for field in AuditEvent._meta.concrete_fields]
_ACTOR = AuditEvent._meta.get_field("actor")


def _event(*, action: str, actor, target, request, details: dict | None) -> tuple[AuditEvent, list]:
    """The event and its INSERT parameters. The details are cleaned and serialised once: the
    same canonical JSON is hashed and stored."""
    actor_user = actor if getattr(actor, "pk", None) else None
    actor_name = actor.get_username() if actor_user else (str(actor) if actor else "")
    target_type = target._meta.label_lower if target is not None and hasattr(target, "_meta") else ""
    target_id = ""
    if target is not None:
        target_id = str(getattr(target, "accession", None) or getattr(target, "pk", "") or target)
    details = _clean(details) if details else {}
    details_json = _details_json(details)
    at = timezone.now()
    actor_name = _printable(actor_name)[:255]
    target_id = _printable(target_id)[:100]
    address = _client_address(request)
    digest = hashlib.sha256(
        _canonical_with("", at, actor_name, action, target_type, target_id, address, details_json)
    ).hexdigest()
    actor_id = actor_user.pk if actor_user else None
    values = dict(
        at=at,
        actor_id=actor_id,
        actor_name=actor_name,
        action=action,
        target_type=target_type,
        target_id=target_id,
        client_address=address,
        details=details,
        content_hash=digest,
    )
    event = AuditEvent(*[values.get(name) for name in _ATTNAMES])  # positional: the model's fast path
    if actor_user is not None:
        _ACTOR.set_cached_value(event, actor_user)
    return event, [at, actor_id, actor_name, action, target_type, target_id, address, details_json, digest]


def record(*, action: str, actor=None, target=None, request=None, details: dict | None = None) -> AuditEvent:
    """Append one event (action is dotted: "access.request.approved"), in the caller's transaction:
    it is kept exactly when the change it describes is. One INSERT, no lock: the sealer chains it
    within seconds (docs/reliability.md, "Audit log")."""
    event, params = _event(action=action, actor=actor, target=target, request=request, details=details)
    db = connections[DEFAULT_DB_ALIAS]  # this thread's connection itself, not the proxy
    if db.vendor == "postgresql":
        _insert(db, event, params)  # the ORM's INSERT compiler costs more than the INSERT itself
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
    event, params = _event(action=action, actor=actor, target=target, request=request, details=details)
    _insert(_beside_connection(), event, params)
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


def _insert(conn, event: AuditEvent, params: list) -> None:
    """One INSERT (PostgreSQL) of an unsealed event, its id back in the same round trip."""
    if conn.queries_logged or conn.execute_wrappers:
        with conn.cursor() as cursor:  # Django's own cursor: logged (DEBUG, tests) or wrapped
            cursor.execute(_INSERT, params)
            event.pk = cursor.fetchone()[0]
    else:
        event.pk = _prepared_insert(conn, params)
    event._state.adding, event._state.db = False, DEFAULT_DB_ALIAS


def _prepared_insert(conn, params: list) -> int:
    """The INSERT bound server-side and prepared once per connection (psycopg keeps it by name on
    that connection): Django's client-side binding quoted every parameter in Python and made
    PostgreSQL parse and plan the INSERT afresh each time, which together cost more than the
    insert. What Django's cursor does around a query is done here too: a health check failed
    since the request began closes the connection, a broken transaction refuses, errors come
    out as Django's. A new connection (closed, replaced, health check failed) gets a new cursor
    and prepares again; so does one after a rollback (psycopg forgets its prepared statements
    then). With prepared statements off (DATABASE_PREPARED_STATEMENTS=false, for poolers that
    lose them) the same INSERT is bound server-side unprepared."""
    conn.close_if_health_check_failed()
    conn.ensure_connection()
    conn.validate_no_broken_transaction()
    raw = conn.connection
    kept = conn.__dict__.get("_audit_append_cursor")
    if kept is None or kept[0] is not raw:
        kept = conn.__dict__["_audit_append_cursor"] = (raw, psycopg.Cursor(raw))
    cursor = kept[1]
    with conn.wrap_database_errors:
        cursor.execute(_INSERT, params, prepare=True)
        return cursor.fetchone()[0]


def close_refusal_connection(**kwargs) -> None:
    """Close this thread's second connection (at the end of each request, and in tests)."""
    side = getattr(_beside, "connection", None)
    if side is not None:
        side.close()
        _beside.connection = None


request_finished.connect(close_refusal_connection, dispatch_uid="audit-close-refusal-connection")

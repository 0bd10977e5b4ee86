"""Verified passports, cached by the token's hash until the earliest `exp` they rely on.

Checking a passport is signatures (one per JWT: the passport and each visa) and claim checks,
the same answer every time for the same token, until something in it expires: a client that
sends the same bearer token on every request paid for those checks on every request. Here the
outcome of `verify.check_passport` (the claims and visas it accepted, nothing else) is kept in
the cache (Redis in production, shared by the web processes, and a small per-process copy in
front of it) under the sha256 of the token,
until the earliest `exp` of the passport and of the visas it accepted, and at most
`PASSPORT_CACHE_SECONDS` (default 300; 0 turns the cache off), so that a change of trust (an
issuer removed, a signing key withdrawn from its JWKS) counts within that time.

What stays live on every request, after this: that our own token is known and not revoked, that
the account is active, that the entitlements behind our own visas are still live (DAC
revocations and blocks), and which datasets the visas open. A refused token is never cached:
it is checked again each time. The key includes the trust settings and the audiences, so
changing TRUSTED_ISSUERS, BASE_URL or the OIDC client id never serves an answer checked under
the old ones.
"""

import hashlib
import threading
import time
from collections import OrderedDict

from django.conf import settings
from django.core.cache import cache

from .verify import CheckedPassport, check_passport

DEFAULT_SECONDS = 300
# In front of the shared cache, each process keeps the most recent verified passports itself (same
# keys, same expiry): a Redis round trip and an unpickling per request were a quarter of the
# time authentication took under load (docs/performance.md).
LOCAL_MAX = 2048
_local: OrderedDict = OrderedDict()
_local_lock = threading.Lock()


def _local_get(key: str, now: float):
    with _local_lock:
        entry = _local.get(key)
        if entry is None:
            return None
        if not entry[0] <= now < entry[1]:
            del _local[key]
            return None
        _local.move_to_end(key)
        return entry[2]


def _local_put(key: str, entry: tuple) -> None:
    with _local_lock:
        _local[key] = entry
        _local.move_to_end(key)
        while len(_local) > LOCAL_MAX:
            _local.popitem(last=False)


def _key(token: str, audiences: set[str]) -> str:
    trust = repr((settings.BASE_URL, settings.TRUSTED_ISSUERS, sorted(a for a in audiences if a)))
    scope = hashlib.sha256(trust.encode()).hexdigest()[:16]
    return f"passports:verified:{scope}:" + hashlib.sha256(token.encode()).hexdigest()


def already_verified(token: str, *, audiences: set[str], now: float | None = None) -> CheckedPassport | None:
    """The outcome `verified_passport` gave this very token in this process, while it holds, or
    None: nothing is parsed or checked. Only tokens that passed as passports are kept, so a hit
    also answers what parsing the token would (that it is a passport): the parse was a fifth of
    the CPU of authenticating a request whose passport is cached."""
    if int(getattr(settings, "PASSPORT_CACHE_SECONDS", DEFAULT_SECONDS)) <= 0:
        return None
    return _local_get(_key(token, audiences), time.time() if now is None else now)


def verified_passport(token: str, *, audiences: set[str], now: float | None = None) -> CheckedPassport:
    """`check_passport(token, audiences=...)`, or its cached outcome while every part of it is still valid."""
    now = time.time() if now is None else now
    limit = int(getattr(settings, "PASSPORT_CACHE_SECONDS", DEFAULT_SECONDS))
    if limit <= 0:
        return check_passport(token, audiences=audiences, now=now)
    key = _key(token, audiences)
    local = _local_get(key, now)
    if local is not None:
        return local
    cached = cache.get(key)
    if cached is not None:
        checked_at, until, checked = cached
        if checked_at <= now < until:
            _local_put(key, (checked_at, min(until, now + limit), checked))
            return checked
    checked = check_passport(token, audiences=audiences, now=now)  # raises Refused: nothing is cached
    until = min([checked.exp, *(visa.exp for visa in checked.visas)])
    timeout = min(int(until - now), limit)
    if timeout >= 1:
        cache.set(key, (now, until, checked), timeout=timeout)
        _local_put(key, (now, now + timeout, checked))
    return checked

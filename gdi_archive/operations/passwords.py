"""Password guessing is slowed down wherever a password is accepted.

Every password check in the archive goes through `django.contrib.auth.authenticate` (the sign-in
page, the admin's, HTTP Basic on the API), so the check is guarded there, once: the first
authentication backend (`PasswordGuard`) refuses while the asker is held back, and each failure
Django reports (`user_login_failed`) is counted. Counts live in the shared cache (Redis in
production), never in a database row per request.

Two counts, both by the client's address (`common.clients.client_address`):
- one account from one address: after `RATE_LIMIT_SIGNIN` failures in `RATE_LIMIT_WINDOW`
  seconds that pair waits `RATE_LIMIT_DELAY` seconds, and each further failure (an attempt while
  held back counts) doubles the wait, up to `RATE_LIMIT_MAX_DELAY`. Other addresses are not
  affected, so a stranger failing on purpose cannot lock a member out;
- one address across all accounts: past `RATE_LIMIT_ADDRESS` failures the same growing wait, so
  trying one password on many accounts is held back too.
`RateLimitMiddleware` turns a refusal into 429 with `Retry-After`.
"""

import hashlib
import logging
import math
import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver

from gdi_archive.common.clients import client_address

from . import metrics

log = logging.getLogger(__name__)
HELD_BACK = "password_held_back"  # attribute on the HttpRequest: (username, address) refused


def _norm(username) -> str:
    return str(username or "").strip().lower()[:150]


def _account_key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{_norm(username)}\x00{address}".encode()).hexdigest()[:32]
    return f"pwguard:acct:{digest}"


def _address_key(address: str) -> str:
    return f"pwguard:addr:{address}"


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    return [
        (_account_key(username, address), settings.RATE_LIMIT_SIGNIN),
        (_address_key(address), settings.RATE_LIMIT_ADDRESS),
    ]


def retry_after(username: str, address: str, *, now: float | None = None) -> int | None:
    """Seconds this account must wait from this address, or None when it may try."""
    now = time.time() if now is None else now
    waits = [until - now for until in cache.get_many([f"{key}:until" for key, _ in _keys(username, address)]).values()]
    waits = [wait for wait in waits if wait > 0]
    return max(1, math.ceil(max(waits))) if waits else None


def _count(key: str, threshold: int, now: float) -> None:
    window = settings.RATE_LIMIT_WINDOW
    if cache.add(f"{key}:n", 1, window):
        count = 1
    else:
        try:
            count = cache.incr(f"{key}:n")
        except ValueError:  # expired between add and incr
            cache.add(f"{key}:n", 1, window)
            count = 1
    if count >= threshold:
        delay = min(settings.RATE_LIMIT_DELAY * 2 ** min(count - threshold, 40), settings.RATE_LIMIT_MAX_DELAY)
        if count == threshold:
            log.warning("passwords: %s held back for %d s after %d failures", key.split(":")[1], delay, count)
        cache.set(f"{key}:until", now + delay, math.ceil(delay) + 1)
        # The count lives as long as the wait does, so the next failure doubles it again.
        cache.touch(f"{key}:n", max(window, math.ceil(delay)) + 1)


def record_failure(username: str, address: str) -> None:
    now = time.time()
    for key, threshold in _keys(username, address):
        _count(key, threshold, now)


def forget(username: str, address: str) -> None:
    """The right password from this address: its count for this account starts again."""
    key = _account_key(username, address)
    cache.delete_many([f"{key}:n", f"{key}:until"])


def reset(*, usernames, addresses) -> None:
    """Tests and operators: drop every count for these accounts and addresses."""
    keys = []
    for address in addresses:
        keys += [f"{_address_key(address)}:n", f"{_address_key(address)}:until"]
        for username in usernames:
            keys += [f"{_account_key(username, address)}:n", f"{_account_key(username, address)}:until"]
    cache.delete_many(keys)


def _http_request(request):
    return getattr(request, "_request", request)  # DRF wraps the HttpRequest


class PasswordGuard(ModelBackend):
    """Django's own username/password backend, refusing while the asker is held back."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self.get_user_model().USERNAME_FIELD)
        if request is None or username is None or password is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        address = client_address(request)
        if retry_after(username, address) is not None:
            setattr(_http_request(request), HELD_BACK, (username, address))
            raise PermissionDenied("too many failed passwords")  # Django stops and reports a failure
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            # ModelBackend stays listed after us (sessions made by the OIDC sign-in name it):
            # stop here rather than hash the same wrong password a second time.
            raise PermissionDenied("wrong password")
        forget(username, address)
        return user


@receiver(user_login_failed, dispatch_uid="gdi_archive.operations.passwords.count")
def _count_failure(sender, credentials, request=None, **kwargs):
    if request is None:
        return
    username = credentials.get("username")
    if username is None:
        return
    record_failure(username, client_address(request))


def held_back(request) -> int | None:
    """For the middleware: the Retry-After of a request the guard refused."""
    refused = getattr(request, HELD_BACK, None)
    if refused is None:
        return None
    metrics.RATE_LIMITED.labels(scope="password").inc()
    return retry_after(*refused) or settings.RATE_LIMIT_DELAY

"""Short-lived signed URLs for body blocks: the URL itself is the credential.

A signature binds what may be fetched (the file, the byte range, the kind of bytes, and for a
whole stream the served header) and when it expires; the key is derived from SECRET_KEY, so
rotating SECRET_KEY invalidates every URL handed out.
"""

import hashlib
import hmac
import time
from urllib.parse import urlencode

from django.conf import settings

from gdi_archive.common.errors import NotFound

PURPOSE = b"gdi-archive signed download URL v1"


def _key() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), PURPOSE, hashlib.sha256).digest()


def _message(fields: dict) -> bytes:
    return "\n".join(f"{name}={fields[name]}" for name in sorted(fields)).encode()


def sign(fields: dict, *, ttl: int | None = None) -> dict:
    """`fields` plus `expires` and `signature`, ready for a query string."""
    signed = {
        **{k: str(v) for k, v in fields.items()},
        "expires": str(int(time.time()) + (ttl or settings.SIGNED_URL_TTL)),
    }
    signed["signature"] = hmac.new(_key(), _message(signed), hashlib.sha256).hexdigest()
    return signed


def signed_url(path: str, fields: dict, *, ttl: int | None = None) -> str:
    return f"{settings.BASE_URL}{path}?{urlencode(sign(fields, ttl=ttl))}"


def verify(query, names: tuple[str, ...]) -> dict:
    """The signed fields, or NotFound when the signature is wrong, missing or expired."""
    try:
        fields = {name: query[name] for name in (*names, "expires")}
        signature = query["signature"]
        expires = int(fields["expires"])
    except (KeyError, ValueError):
        raise NotFound("This link is not valid.") from None
    expected = hmac.new(_key(), _message(fields), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(signature)):
        raise NotFound("This link is not valid.")
    if expires < time.time():
        raise NotFound("This link has expired; ask for a new ticket.")
    return fields

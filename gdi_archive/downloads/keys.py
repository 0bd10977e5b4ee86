"""Which Crypt4GH public key a download is encrypted for.

A key in the request wins over a registered one; the same key in several headers counts once;
different keys, a malformed key, or no key at all are refused (design.md section 6).
"""

import base64
from dataclasses import dataclass

from gdi_archive.common.errors import InvalidInput
from gdi_archive.crypt4gh import keys as c4gh_keys
from gdi_archive.crypt4gh.errors import InvalidKey

# Django's META names for X-C4GH-Public-Key, Client-Public-Key and Htsget-Context-Public-Key.
KEY_HEADERS = ("HTTP_X_C4GH_PUBLIC_KEY", "HTTP_CLIENT_PUBLIC_KEY", "HTTP_HTSGET_CONTEXT_PUBLIC_KEY")


@dataclass(frozen=True)
class ClientKey:
    raw: bytes

    @property
    def fingerprint(self) -> str:
        return c4gh_keys.key_id(self.raw)

    @property
    def b64(self) -> str:
        return base64.b64encode(self.raw).decode()


def registered_key(user) -> ClientKey | None:
    """The newest unrevoked key the user registered on the web, if any."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    from gdi_archive.accounts.models import PublicKey

    stored = PublicKey.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at", "-id").first()
    if stored is None:
        return None
    try:
        return ClientKey(c4gh_keys.parse_public_key(stored.key))
    except InvalidKey:
        return None


def parse_client_key(value) -> ClientKey:
    try:
        return ClientKey(c4gh_keys.parse_public_key(value))
    except InvalidKey as exc:
        raise InvalidInput(f"The Crypt4GH public key in the request is not usable: {exc}") from None


def client_key(request, *, body_value: str | None = None) -> ClientKey:
    """The key from the request headers (or a JSON body field), else the user's registered key."""
    values = [request.META[name] for name in KEY_HEADERS if request.META.get(name, "").strip()]
    if body_value:
        values.append(body_value)
    found = {parse_client_key(value).raw for value in values}
    if len(found) > 1:
        raise InvalidInput("The request carries two different Crypt4GH public keys; send only one.")
    if found:
        return ClientKey(found.pop())
    key = registered_key(getattr(request, "user", None))
    if key is None:
        raise InvalidInput(
            "A Crypt4GH public key is needed to encrypt the download: send it in the X-C4GH-Public-Key "
            "header (base64 of your public key file) or register one on the web."
        )
    return key

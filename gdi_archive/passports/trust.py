"""Who we trust and where their keys are: TRUSTED_ISSUERS plus this archive itself.

A JWKS is fetched only from a `jku` that is on the list for that `iss` (exact match), checked
before any connection is opened, never from a URL taken from a token alone. Fetched key sets
are cached in memory; an unknown `kid` triggers at most one refresh per issuer every
`REFRESH_MIN_INTERVAL` seconds, so a flood of made-up kids cannot make us hammer a broker.
"""

import ipaddress
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from joserfc.jwk import ECKey, RSAKey

from gdi_archive.common.issuers import DEFAULT_BY, DEFAULT_MAX_VISA_LIFETIME, parse_issuer

from . import keys as own_keys

log = logging.getLogger(__name__)

JWKS_TTL = 600
REFRESH_MIN_INTERVAL = 30
FETCH_TIMEOUT = 5
FETCH_MAX_BYTES = 256 * 1024


class Untrusted(Exception):
    """A token names an issuer, key or URL we do not trust; the message is the reason."""


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer and what we rely on it for (design.md 7, "Trust, scoped"); defaults deny."""

    iss: str
    jku: str
    userinfo: str | None = None
    own: bool = False
    # What its ControlledAccessGrants may open: dataset accessions and DAC accessions.
    grant_datasets: frozenset[str] = frozenset()
    grant_dacs: frozenset[str] = frozenset()
    by: frozenset[str] = frozenset(DEFAULT_BY)
    sources: tuple[str, ...] | None = None  # accepted `source` prefixes; None = any
    link_identities: bool = False  # may its LinkedIdentities reach this archive's own users?
    max_visa_lifetime: int | None = DEFAULT_MAX_VISA_LIFETIME  # exp - iat of each of its visas; None = no limit


def _scoped(entry: dict) -> TrustedIssuer:
    return TrustedIssuer(
        iss=entry["iss"],
        jku=entry["jku"],
        userinfo=entry["userinfo"],
        grant_datasets=frozenset(entry["grants"]["datasets"]),
        grant_dacs=frozenset(entry["grants"]["dacs"]),
        by=frozenset(entry["by"]),
        sources=tuple(entry["sources"]) if entry["sources"] is not None else None,
        link_identities=entry["link_identities"],
        max_visa_lifetime=entry["max_visa_lifetime"],
    )


def trusted_issuers() -> dict[str, TrustedIssuer]:
    """Settings checked these at start-up; an entry that fails here (set at run time) is left out."""
    issuers = {}
    for index, entry in enumerate(settings.TRUSTED_ISSUERS):
        try:
            issuer = _scoped(parse_issuer(entry, index))
        except ImproperlyConfigured as exc:
            log.error("TRUSTED_ISSUERS entry ignored: %s", exc)
            continue
        issuers[issuer.iss] = issuer
    own = settings.BASE_URL.rstrip("/")
    # The archive's own visas: trusted for everything it issued (checked against live entitlements).
    issuers[own] = TrustedIssuer(iss=own, jku=own_keys.jwks_url(), own=True, max_visa_lifetime=None)
    return issuers


def issuer_for(iss: str) -> TrustedIssuer | None:
    return trusted_issuers().get(iss.rstrip("/") if isinstance(iss, str) else "")


def check_jku(issuer: TrustedIssuer, jku: str | None) -> None:
    """The `jku` a token names must be exactly the one listed for its issuer (A.13 rule 5)."""
    if jku is not None and jku != issuer.jku:
        raise Untrusted(f"jku {jku[:80]!r} is not the one trusted for issuer {issuer.iss!r}")


def _literal_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return host in ("localhost",)


def check_fetchable(url: str) -> None:
    """Refuse schemes other than http(s), credentials in URLs, and hosts that resolve to
    internal addresses unless the trusted list names that host literally (an operator's
    deliberate choice, as in tests)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        raise Untrusted("URL is not a plain http(s) URL")
    if settings.PRODUCTION and parts.scheme != "https":
        raise Untrusted("only https URLs are fetched in production")
    host = parts.hostname
    if _literal_host(host):
        return  # listed by address: explicitly trusted by the operator
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise Untrusted(f"cannot resolve {host}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise Untrusted(f"{host} resolves to an internal address")


def fetch_json(url: str, *, headers: dict | None = None) -> tuple[int, object]:
    """GET a small JSON document from a trusted URL (no redirects, bounded size and time)."""
    check_fetchable(url)
    with requests.get(
        url, headers=headers or {}, timeout=FETCH_TIMEOUT, allow_redirects=False, stream=True
    ) as response:
        body = b""
        for chunk in response.iter_content(16384):
            body += chunk
            if len(body) > FETCH_MAX_BYTES:
                raise Untrusted("response is too large")
        if response.status_code != 200:
            return response.status_code, None
        try:
            return 200, json.loads(body)
        except ValueError as exc:
            raise Untrusted("response is not JSON") from exc


def _import_jwk(jwk: dict):
    """A public key and the one algorithm it may verify, or None for keys we cannot use."""
    if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig" or "d" in jwk:
        return None
    try:
        if jwk.get("kty") == "RSA":
            key, alg = RSAKey.import_key(jwk), "RS256"
        elif jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            key, alg = ECKey.import_key(jwk), "ES256"
        else:
            return None
    except Exception:  # a malformed JWK is skipped, not fatal for the other keys
        return None
    if jwk.get("alg") not in (None, alg):
        return None
    return key, alg


class _JwksCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._sets: dict[str, tuple[float, dict]] = {}  # jku -> (fetched_at, {kid: (key, alg)})

    def clear(self):
        with self._lock:
            self._sets.clear()

    def _fetch(self, jku: str) -> dict:
        status, document = fetch_json(jku)
        if status != 200 or not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise Untrusted(f"JWKS at {jku} could not be read (status {status})")
        found = {}
        for jwk in document["keys"][:50]:
            imported = _import_jwk(jwk)
            if imported and isinstance(jwk.get("kid"), str):
                found[jwk["kid"]] = imported
        return found

    def key(self, issuer: TrustedIssuer, kid: str):
        now = time.monotonic()
        entry = self._sets.get(issuer.jku)
        if entry and now - entry[0] < JWKS_TTL and kid in entry[1]:
            return entry[1][kid]
        if entry and kid not in entry[1] and now - entry[0] < REFRESH_MIN_INTERVAL:
            raise Untrusted(f"unknown kid {kid[:40]!r} for issuer {issuer.iss!r}")
        with self._lock:
            try:
                found = self._fetch(issuer.jku)
            except requests.RequestException as exc:
                raise Untrusted(f"JWKS at {issuer.jku} is unreachable ({exc.__class__.__name__})") from exc
            self._sets[issuer.jku] = (time.monotonic(), found)
        if kid not in found:
            raise Untrusted(f"unknown kid {kid[:40]!r} for issuer {issuer.iss!r}")
        return found[kid]


jwks_cache = _JwksCache()


def verification_key(issuer: TrustedIssuer, kid: str | None):
    """(key, pinned alg) for `kid` at that issuer; our own keys are read locally, never fetched."""
    if not kid:
        raise Untrusted("token has no kid")
    if issuer.own:
        key = own_keys.key_by_kid(kid)
        if key is None:
            raise Untrusted(f"unknown kid {kid[:40]!r} for this archive")
        return key.public, key.alg
    return jwks_cache.key(issuer, kid)

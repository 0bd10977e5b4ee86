"""The archive's visa signing keys: load, generate (development only), rotate, publish.

Keys are PEM files, never database rows. When `VISA_SIGNING_KEY_FILE` is set (production) the
first file signs and every listed file is published. Otherwise (development) the keys live in
`KEYS_DIR` as `visa-signing-<UTC timestamp>.pem`: the newest signs, and an older key stays
published while a token it signed may still be valid (its successor is younger than the
longest lifetime we give anything). The algorithm is pinned per key by its type: RSA keys sign
and verify only RS256, P-256 keys only ES256.
"""

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from joserfc.jwk import ECKey, RSAKey

KEY_PREFIX = "visa-signing-"
RETIRED_DIR = "retired"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: RSAKey | ECKey
    public: RSAKey | ECKey
    path: Path
    created_at: datetime

    def public_jwk(self) -> dict:
        jwk = self.public.as_dict(private=False)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}


def key_alg(key) -> str:
    """The only algorithm a key may be used with (pinned by key type, never taken from a token)."""
    if isinstance(key, RSAKey):
        return "RS256"
    if isinstance(key, ECKey) and key.as_dict(private=False).get("crv") == "P-256":
        return "ES256"
    raise ImproperlyConfigured("visa signing keys must be RSA (RS256) or EC P-256 (ES256)")


def max_token_lifetime() -> int:
    """Longest time anything we sign stays valid; an old key is published at least this long."""
    return max(settings.PASSPORT_TOKEN_MAX_AGE, settings.VISA_MAX_AGE)


def _load(path: Path) -> SigningKey:
    pem = path.read_bytes()
    loaded = serialization.load_pem_private_key(pem, password=None)
    if isinstance(loaded, rsa.RSAPrivateKey):
        private = RSAKey.import_key(loaded)
    elif isinstance(loaded, ec.EllipticCurvePrivateKey):
        private = ECKey.import_key(loaded)
    else:
        raise ImproperlyConfigured(f"{path.name}: visa signing keys must be RSA or EC P-256")
    alg = key_alg(private)
    public_dict = private.as_dict(private=False)
    public = type(private).import_key(public_dict)
    kid = private.thumbprint()
    created = _created_at(path)
    return SigningKey(kid=kid, alg=alg, private=private, public=public, path=path, created_at=created)


def _created_at(path: Path) -> datetime:
    stem = path.stem
    if stem.startswith(KEY_PREFIX):
        try:
            return datetime.strptime(stem[len(KEY_PREFIX) :], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def _keys_dir() -> Path:
    return Path(settings.KEYS_DIR)


def _dev_key_paths() -> list[Path]:
    folder = _keys_dir()
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"{KEY_PREFIX}*.pem"), reverse=True)  # newest first


class _KeyRing:
    """Cached keys, reloaded when the key folder changes (a rotation in another process)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._stamp = None
        self._keys: list[SigningKey] = []

    def _current_stamp(self):
        if settings.VISA_SIGNING_KEY_FILES:
            return ("files", tuple(settings.VISA_SIGNING_KEY_FILES))
        folder = _keys_dir()
        try:
            return ("dir", str(folder), folder.stat().st_mtime_ns)
        except FileNotFoundError:
            return ("dir", str(folder), None)

    def keys(self) -> list[SigningKey]:
        stamp = self._current_stamp()
        if stamp != self._stamp:
            with self._lock:
                if settings.VISA_SIGNING_KEY_FILES:
                    keys = [_load(Path(p)) for p in settings.VISA_SIGNING_KEY_FILES]
                else:
                    keys = [_load(p) for p in _dev_key_paths()]
                self._keys, self._stamp = keys, stamp
        return self._keys


_ring = _KeyRing()


def signing_keys() -> list[SigningKey]:
    """Every key that may still verify a live token, the current (signing) key first."""
    return _ring.keys()


def current_key() -> SigningKey:
    keys = signing_keys()
    if not keys and not settings.PRODUCTION and not settings.VISA_SIGNING_KEY_FILES:
        ensure_signing_keys()  # development: the first signature makes the first key
        keys = signing_keys()
    if not keys:
        raise ImproperlyConfigured("no visa signing key: set VISA_SIGNING_KEY_FILE or run `manage.py bootstrap`")
    return keys[0]


def key_by_kid(kid: str) -> SigningKey | None:
    for key in signing_keys():
        if key.kid == kid:
            return key
    return None


def jwks() -> dict:
    return {"keys": [key.public_jwk() for key in signing_keys()]}


def jwks_url() -> str:
    return f"{settings.BASE_URL}/.well-known/jwks.json"


def _generate_private_key(algorithm: str):
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def write_new_key(folder: Path, algorithm: str, *, now: datetime | None = None) -> Path:
    """A fresh private key as a PEM file readable by its owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{KEY_PREFIX}{stamp}.pem"
    pem = _generate_private_key(algorithm).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return path


def ensure_signing_keys() -> SigningKey:
    """Called at start: in development make a key when there is none; production never generates."""
    if not settings.VISA_SIGNING_KEY_FILES and not _dev_key_paths():
        if settings.PRODUCTION:
            raise ImproperlyConfigured("VISA_SIGNING_KEY_FILE is required in production")
        write_new_key(_keys_dir(), settings.VISA_SIGNING_ALGORITHM)
    return current_key()


def rotate(*, algorithm: str | None = None, now: datetime | None = None) -> tuple[SigningKey, list[Path]]:
    """Development key folder: a new current key; retire keys no live token can need any more.

    A key is retired (moved to `retired/`, not deleted) once its successor has been signing
    for longer than the longest token lifetime, so tokens already issued keep verifying.
    """
    if settings.VISA_SIGNING_KEY_FILES:
        raise ImproperlyConfigured("keys come from VISA_SIGNING_KEY_FILE; rotate them there (see --out)")
    now = now or datetime.now(UTC)
    write_new_key(_keys_dir(), algorithm or settings.VISA_SIGNING_ALGORITHM, now=now)
    paths = _dev_key_paths()  # newest first
    retired = []
    for successor, older in zip(paths, paths[1:], strict=False):
        if (now - _created_at(successor)).total_seconds() > max_token_lifetime() + 60:
            target = _keys_dir() / RETIRED_DIR
            target.mkdir(exist_ok=True)
            older.rename(target / older.name)
            retired.append(older)
    return current_key(), retired

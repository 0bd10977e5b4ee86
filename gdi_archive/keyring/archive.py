"""The archive's own Crypt4GH keys: submitters encrypt to the current one; all of them open headers.

Production configures the key files (`C4GH_SECRET_KEY_FILE`, comma-separated, first = current)
and the passphrase; nothing is generated. Development generates a passphrase-protected key pair
under `KEYS_DIR` on first use, and `rotate_archive_key --generate` adds newer ones (newest first).
Secret keys are decrypted once per process (the key derivation is deliberately slow) and kept in
memory only; the list of files is looked at again at most `RECHECK_SECONDS` after the last look
(a stat per key file was 7% of an htsget ticket under load, asked several times per request), so
a rotation in another process is seen within that time without a restart; one in this process
(`generate_new_archive_key`) at once.
"""

import fcntl
import os
import secrets
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from gdi_archive.crypt4gh.keys import generate_keypair, key_id, load_secret_key, public_from_secret

KEY_PREFIX = "c4gh-archive-"
SECRET_SUFFIX = ".sec"
PUBLIC_SUFFIX = ".pub"
PASSPHRASE_FILE = "c4gh_passphrase"

_lock = threading.Lock()
_loaded: dict[tuple[str, int], bytes] = {}  # (path, mtime_ns) -> raw secret key
RECHECK_SECONDS = 1.0
_recent: dict = {}  # "keys" -> (settings it was read under, monotonic deadline, keys)


def _keys_dir() -> Path:
    return Path(settings.KEYS_DIR)


@contextmanager
def _keys_dir_lock():
    """Several processes (web, workers) may start at once: only one generates a key."""
    directory = _keys_dir()
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    with open(directory / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield directory
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _generated_key_files() -> list[Path]:
    """Development keys, newest first (names carry a sortable UTC timestamp)."""
    directory = _keys_dir()
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f"{KEY_PREFIX}*{SECRET_SUFFIX}"), key=lambda p: p.name, reverse=True)


def _passphrase() -> str:
    if settings.C4GH_PASSPHRASE:
        return settings.C4GH_PASSPHRASE
    path = _keys_dir() / PASSPHRASE_FILE
    if not path.exists():
        if settings.PRODUCTION:
            raise ImproperlyConfigured("C4GH_PASSPHRASE is required in production")
        with _keys_dir_lock() as directory:
            path = directory / PASSPHRASE_FILE
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _generate(directory: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    secret_path = directory / f"{KEY_PREFIX}{stamp}{SECRET_SUFFIX}"
    public_path = directory / f"{KEY_PREFIX}{stamp}{PUBLIC_SUFFIX}"
    generate_keypair(secret_path, public_path, _passphrase(), comment=f"gdi-archive {stamp}")
    return secret_path


def ensure_archive_keys() -> None:
    """Make sure there is at least one archive key (development generates one once)."""
    if settings.C4GH_SECRET_KEY_FILES:
        missing = [p for p in settings.C4GH_SECRET_KEY_FILES if not Path(p).is_file()]
        if missing:
            raise ImproperlyConfigured(f"C4GH_SECRET_KEY_FILE names a file that does not exist: {missing[0]}")
        return
    if settings.PRODUCTION:
        raise ImproperlyConfigured("C4GH_SECRET_KEY_FILE is required in production")
    _passphrase()
    with _keys_dir_lock() as directory:
        if not _generated_key_files():
            _generate(directory)


def generate_new_archive_key() -> bytes:
    """Development only: a new key pair that becomes the current key. Returns its public key."""
    if settings.C4GH_SECRET_KEY_FILES or settings.PRODUCTION:
        raise ImproperlyConfigured(
            "Archive keys are configured (C4GH_SECRET_KEY_FILE): create the new key with crypt4gh-keygen, "
            "put it first in C4GH_SECRET_KEY_FILE and restart, then run rotate_archive_key without --generate."
        )
    _passphrase()
    with _keys_dir_lock() as directory:
        path = _generate(directory)
    _recent.clear()
    return public_from_secret(_load(path))


def key_files() -> list[Path]:
    """The archive secret key files, newest first (configured ones, or those generated in DATA_DIR)."""
    if settings.C4GH_SECRET_KEY_FILES:
        return [Path(p) for p in settings.C4GH_SECRET_KEY_FILES]
    ensure_archive_keys()
    return _generated_key_files()


def _load(path: Path) -> bytes:
    stat = path.stat()
    cache_key = (str(path.resolve()), stat.st_mtime_ns)
    with _lock:
        if cache_key not in _loaded:
            _loaded[cache_key] = load_secret_key(path, _passphrase())
        return _loaded[cache_key]


def archive_secret_keys() -> list[bytes]:
    """Every archive secret key, the current one first (the files looked at again at most
    RECHECK_SECONDS after the last look, or at once when the key settings change)."""
    under = (tuple(settings.C4GH_SECRET_KEY_FILES or ()), str(settings.KEYS_DIR), settings.C4GH_PASSPHRASE)
    recent = _recent.get("keys")
    now = time.monotonic()
    if recent is not None and recent[0] == under and now < recent[1]:
        return list(recent[2])
    keys = [_load(path) for path in key_files()]
    if not keys:
        raise ImproperlyConfigured("There is no archive Crypt4GH key.")
    _recent["keys"] = (under, now + RECHECK_SECONDS, tuple(keys))
    return keys


def current_public_key() -> bytes:
    return public_from_secret(archive_secret_keys()[0])


def current_key_id() -> str:
    return key_id(current_public_key())


def archive_key_ids() -> list[str]:
    """Key ids in the same order as `archive_secret_keys()`."""
    return [key_id(public_from_secret(sk)) for sk in archive_secret_keys()]


def archive_keyring() -> list[tuple[bytes, str]]:
    """(secret key, key id) pairs from one look at the key files, current first.

    Use this when an index into the key list must still mean the same key later on (a
    rotation in another process may add a key at the front meanwhile).
    """
    return [(sk, key_id(public_from_secret(sk))) for sk in archive_secret_keys()]

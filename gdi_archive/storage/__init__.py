"""Object stores for the archive, inbox and outbox: a local folder or an S3 bucket.

Django settings are read only in the factories below, at call time, so tests can point the
stores elsewhere with `override_settings`.
"""

import os
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

from .base import Store, safe_key
from .errors import InvalidKey, ObjectNotFound, StorageError, StorageFull, StorageUnavailable
from .local import LocalStore
from .s3 import S3Store

__all__ = [
    "InvalidKey",
    "LocalStore",
    "ObjectNotFound",
    "S3Store",
    "Store",
    "StorageError",
    "StorageFull",
    "StorageUnavailable",
    "archive_store",
    "inbox_store",
    "open_store",
    "outbox_store",
    "safe_key",
]

_cache: dict[tuple, Store] = {}
_lock = threading.Lock()


def _s3_settings() -> dict:
    from django.conf import settings

    return {
        "endpoint_url": getattr(settings, "S3_ENDPOINT_URL", None) or None,
        "region": getattr(settings, "S3_REGION", None) or "us-east-1",
        "access_key": getattr(settings, "AWS_ACCESS_KEY_ID", None) or None,
        "secret_key": getattr(settings, "AWS_SECRET_ACCESS_KEY", None) or None,
    }


def _make(url: str, s3: dict | None) -> Store:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"A file:// storage URL must be on this host, not {parsed.netloc!r}.")
        path = unquote(parsed.path)
        if not path.startswith("/"):
            raise ValueError("A file:// storage URL needs an absolute path.")
        return LocalStore(Path(path))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError("An s3:// storage URL needs a bucket name.")
        return S3Store(parsed.netloc, prefix=parsed.path.strip("/"), **(s3 or {}))
    raise ValueError(f"Unsupported storage URL {url!r}: use file:///path or s3://bucket[/prefix].")


def open_store(url: str) -> Store:
    """The store for a URL, cached per URL and S3 endpoint/credentials (clients are reusable).

    Also per process: boto3 connection pools must not be shared across a fork (Celery
    prefork, gunicorn preload).
    """
    s3 = _s3_settings() if url.startswith("s3:") else None
    cache_key = (os.getpid(), url, tuple(sorted(s3.items())) if s3 else None)
    with _lock:
        store = _cache.get(cache_key)
        if store is None:
            store = _cache[cache_key] = _make(url, s3)
        return store


def archive_store() -> Store:
    from django.conf import settings

    return open_store(settings.STORAGE_URL)


def inbox_store() -> Store:
    from django.conf import settings

    return open_store(settings.INBOX_URL)


def outbox_store() -> Store:
    from django.conf import settings

    return open_store(settings.OUTBOX_URL)


def ensure_stores_ready(*, remove_abandoned_writes: bool = False) -> dict[str, str]:
    """Create the archive, inbox and outbox folders or buckets if they are missing.

    Called when a web or worker process starts (design.md: missing buckets are created at
    start when the credentials allow it). A store that cannot be created is logged and left
    for /health/ready to report; the process still starts.
    """
    import logging

    outcome = {}
    for name, factory in (("archive", archive_store), ("inbox", inbox_store), ("outbox", outbox_store)):
        try:
            store = factory()
            store.ensure_ready()
            if remove_abandoned_writes and isinstance(store, LocalStore):
                store.remove_abandoned_writes()
            outcome[name] = "ok"
        except (StorageError, ValueError) as exc:
            logging.getLogger(__name__).warning("storage %s is not ready: %s", name, exc)
            outcome[name] = str(exc)
    return outcome

"""The object store interface shared by the local-folder and S3 backends."""

import abc
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from .errors import InvalidKey

DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
MAX_KEY_LENGTH = 1024


def safe_key(key: str) -> str:
    """Return `key` if it cannot escape the store root; raise InvalidKey otherwise.

    Keys are relative, '/'-separated paths without empty, '.' or '..' parts, NUL or backslash.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey("An object key must be a non-empty string.")
    if len(key.encode("utf-8", errors="replace")) > MAX_KEY_LENGTH:
        raise InvalidKey("The object key is too long.")
    if "\x00" in key or "\\" in key:
        raise InvalidKey("An object key may not contain NUL or backslash characters.")
    if key.startswith("/"):
        raise InvalidKey("An object key may not be an absolute path.")
    if any(ord(ch) < 32 for ch in key):
        raise InvalidKey("An object key may not contain control characters.")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidKey("An object key may not contain empty, '.' or '..' parts.")
    return key


def _safe_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a key-like string (may end with '/')."""
    if prefix:
        safe_key(prefix.rstrip("/") or "x")
    return prefix


class Store(abc.ABC):
    """A flat namespace of immutable-ish objects addressed by '/'-separated keys."""

    url: str = ""

    @abc.abstractmethod
    def write(self, key: str, chunks: Iterable[bytes]) -> int:
        """Stream `chunks` to `key`; atomic: on any failure nothing is left under `key`."""

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable binary file-like object (`read(n)`, `close()`, context manager)."""

    def fingerprint(self, key: str) -> str | None:
        """A token that changes whenever the object is written again, or None when the store has none.

        Lets a later step prove cheaply that an object is the one an earlier step read, without
        reading it again."""
        return None

    def open_sequential(self, key: str) -> BinaryIO:
        """`open` for one pass from start to end (an ingest run), which may bypass the store's caches."""
        return self.open(key)

    @abc.abstractmethod
    def iter_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Bytes [start, end) of the object in chunks; `end` None means to the end."""

    @abc.abstractmethod
    def size(self, key: str) -> int: ...

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with `prefix`, in key order."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise StorageUnavailable unless the store answers and its bucket/folder exists."""

    @abc.abstractmethod
    def ensure_ready(self) -> None:
        """Create the folder or bucket if it is missing (and the credentials allow it)."""

    def presigned_url(
        self, key: str, *, expires_in: int, start: int | None = None, end: int | None = None
    ) -> str | None:
        """A URL a client can GET directly, or None when the backend cannot make one."""
        return None

    def free_space(self) -> int | None:
        """Bytes left, when the backend knows (a local disk); None otherwise."""
        return None

    @staticmethod
    def _check_range(start: int, end: int | None) -> None:
        if not isinstance(start, int) or start < 0:
            raise ValueError("The range start must be 0 or more.")
        if end is not None and (not isinstance(end, int) or end < start):
            raise ValueError("The range end must not be smaller than the start.")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

"""Storage errors. Callers retry StorageUnavailable; everything else is final."""


class StorageError(Exception):
    """Base class; the message is safe to log (no credentials, no presigned URLs)."""


class StorageUnavailable(StorageError):
    """Transient: connection refused, timeout, 5xx, throttling, or the bucket/folder is missing."""


class ObjectNotFound(StorageError):
    pass


class StorageFull(StorageError):
    """No space left (ENOSPC/EDQUOT) or the object store refuses the size."""


class InvalidKey(StorageError, ValueError):
    """An object key that could escape the store or is otherwise unsafe."""

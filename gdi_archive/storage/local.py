"""Objects as files under one folder (development, single host, or a mounted volume)."""

import errno
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from .base import DEFAULT_CHUNK_SIZE, Store, _safe_prefix, safe_key
from .direct import OnePassReader, Sink
from .errors import InvalidKey, ObjectNotFound, StorageError, StorageFull, StorageUnavailable

TMP_PREFIX = ".gdi-tmp-"
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _translate(exc: OSError, key: str, *, writing: bool = False) -> StorageError:
    if exc.errno in _FULL:
        return StorageFull(f"No space left to store {key!r}.")
    if writing and isinstance(exc, (FileExistsError, IsADirectoryError, NotADirectoryError)):
        return StorageError(f"{key!r} clashes with an existing object or folder.")
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return ObjectNotFound(f"No object {key!r}.")
    return StorageError(f"Storage error on {key!r}: {exc.strerror or exc.__class__.__name__}.")


class LocalStore(Store):
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.url = self.root.as_uri() if self.root.is_absolute() else str(self.root)

    def _path(self, key: str) -> Path:
        safe_key(key)
        if any(part.startswith(TMP_PREFIX) for part in key.split("/")):
            raise InvalidKey("That object key is reserved for temporary files.")
        return self.root / key

    def write(self, key: str, chunks: Iterable[bytes]) -> int:
        """Write to a temp file in the target folder, fsync, then rename over `key`.

        Errors raised by `chunks` itself pass through unchanged; only disk errors become
        StorageError (StorageFull for a full disk or quota).
        """
        path = self._path(key)
        written = 0
        tmp_name = None
        try:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
            except OSError as exc:
                raise _translate(exc, key, writing=True) from exc
            sink = Sink(fd)
            try:
                for chunk in chunks:
                    try:
                        sink.write(chunk)
                    except OSError as exc:
                        raise _translate(exc, key, writing=True) from exc
                try:
                    written = sink.finish()
                except OSError as exc:
                    raise _translate(exc, key, writing=True) from exc
            finally:
                sink.close()
                os.close(fd)
            try:
                os.replace(tmp_name, path)
            except OSError as exc:
                raise _translate(exc, key, writing=True) from exc
            tmp_name = None
            self._fsync_dir(path.parent)
        finally:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except OSError:
                    pass
        return written

    @staticmethod
    def _fsync_dir(folder: Path) -> None:
        try:
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            if path.is_dir():
                raise IsADirectoryError(errno.EISDIR, "is a folder")
            return open(path, "rb")
        except OSError as exc:
            raise _translate(exc, key) from exc

    def fingerprint(self, key: str) -> str | None:
        """Inode, size and modification and change times: a write replaces the file (a new inode)
        and any change in place moves its ctime, which no caller can set back."""
        try:
            st = os.stat(self._path(key))
        except OSError:
            return None
        return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"

    def open_sequential(self, key: str):
        """`open` for one pass from start to end, bypassing the page cache (`OnePassReader`)."""
        path = self._path(key)
        try:
            if path.is_dir():
                raise IsADirectoryError(errno.EISDIR, "is a folder")
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise _translate(exc, key) from exc
        try:
            return OnePassReader(fd)
        except BaseException:
            os.close(fd)
            raise

    def iter_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Iterator[bytes]:
        self._check_range(start, end)
        handle = self.open(key)  # raise ObjectNotFound now, not at the first next()
        return self._iter(handle, key, start, end, chunk_size)

    @staticmethod
    def _iter(handle, key, start, end, chunk_size) -> Iterator[bytes]:
        with handle:
            try:
                handle.seek(start)
                remaining = None if end is None else end - start
                while remaining is None or remaining > 0:
                    data = handle.read(chunk_size if remaining is None else min(chunk_size, remaining))
                    if not data:
                        return
                    if remaining is not None:
                        remaining -= len(data)
                    yield data
            except OSError as exc:
                raise _translate(exc, key) from exc

    def size(self, key: str) -> int:
        path = self._path(key)
        try:
            if path.is_dir():
                raise IsADirectoryError(errno.EISDIR, "is a folder")
            return path.stat().st_size
        except OSError as exc:
            raise _translate(exc, key) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except IsADirectoryError:
            return
        except OSError as exc:
            raise _translate(exc, key) from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        _safe_prefix(prefix)
        if not self.root.is_dir():
            return iter(())
        keys = []
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if not d.startswith(TMP_PREFIX)]
            rel = Path(folder).relative_to(self.root)
            for name in files:
                if name.startswith(TMP_PREFIX):
                    continue
                key = (rel / name).as_posix() if rel != Path(".") else name
                if key.startswith(prefix):
                    keys.append(key)
        return iter(sorted(keys))

    def ping(self) -> None:
        if not self.root.is_dir():
            raise StorageUnavailable(f"The storage folder {self.root} does not exist.")
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise StorageUnavailable(f"The storage folder {self.root} is not writable.")

    def ensure_ready(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"Cannot create the storage folder {self.root}: {exc.strerror}.") from exc

    def remove_abandoned_writes(self, *, idle_seconds: int = 6 * 3600) -> int:
        """Delete temporary files of writes whose process died (SIGKILL skips the clean-up).

        A write in progress touches its file all the time, so one left alone for hours is dead.
        It walks the whole folder, so only Celery workers do it when they start, not web processes.
        """
        cutoff = time.time() - idle_seconds
        removed = 0
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if not name.startswith(TMP_PREFIX):
                    continue
                path = os.path.join(folder, name)
                try:
                    if os.stat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
                except OSError:
                    continue
        return removed

    def free_space(self) -> int | None:
        try:
            return shutil.disk_usage(self.root).free
        except OSError:
            return None

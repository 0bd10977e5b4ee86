"""Writing and reading one whole file straight to and from the disk (O_DIRECT), for LocalStore.

On the 2-core VM, moving bytes through fresh page-cache pages cost more kernel CPU than hashing
them (docs/performance.md, "Ingest: where the CPU goes"); these two helpers go around the cache
where the filesystem allows it, and through it, as before, where it does not.
"""

import errno
import fcntl
import mmap
import os
import queue
import threading

WRITEBACK_BYTES = 32 * 1024 * 1024
DIRECT_ALIGN = 4096  # O_DIRECT wants buffer address, length and file offset aligned to the block size
DIRECT_BUFFER = 4 * 1024 * 1024  # a multiple of DIRECT_ALIGN


class Sink:
    """Writes one new file, straight to the disk (O_DIRECT) where the filesystem allows it.

    Through the page cache, every byte is copied into freshly allocated cache pages: on the
    2-core VM that copy cost 0.6-3 s of kernel CPU per GiB (the pages' first touch is paid
    to the hypervisor), more than hashing the same bytes. With O_DIRECT the disk reads the
    bytes from one reused, page-aligned buffer (one copy into it, 0.04 s/GiB) and the write
    costs about 0.05 s/GiB. The unaligned tail of the file is written through the page cache.
    Where O_DIRECT is refused (tmpfs, some network filesystems, other systems) every write
    goes through the page cache, with writeback started as it goes (`_start_writeback`).
    """

    def __init__(self, fd: int):
        self.fd, self.written, self.flushed = fd, 0, 0
        self.direct = _set_direct(fd, True)
        self.buffer: mmap.mmap | None = None
        self.fill = 0

    def write(self, chunk) -> None:
        data = memoryview(chunk).cast("B")
        if not self.direct:
            self._write_all(data)
            return
        if self.buffer is None:
            self.buffer = mmap.mmap(-1, DIRECT_BUFFER)  # page-aligned; pages touched as filled
        view = memoryview(self.buffer)
        with view:
            while data:
                take = min(len(data), DIRECT_BUFFER - self.fill)
                view[self.fill : self.fill + take] = data[:take]
                self.fill += take
                data = data[take:]
                if self.fill == DIRECT_BUFFER:
                    self._drain(DIRECT_BUFFER)
                    if not self.direct:  # O_DIRECT refused on the way: the rest goes through the cache
                        self._write_all(data)
                        return

    def _drain(self, aligned: int) -> None:
        """Write the buffer's first `aligned` bytes (all of it if O_DIRECT gets refused meanwhile)."""
        view = memoryview(self.buffer)
        with view:
            self._write_all(view[:aligned])
            if not self.direct and self.fill > aligned:
                self._write_all(view[aligned : self.fill])
                aligned = self.fill
            rest = self.fill - aligned
            if rest:
                view[:rest] = bytes(view[aligned : self.fill])  # under one block
            self.fill = rest

    def _write_all(self, data) -> None:
        done = 0
        while done < len(data):
            try:
                count = os.write(self.fd, data[done:])
            except OSError as exc:
                if exc.errno == errno.EINVAL and self.direct:  # refused here after all (a short write, a
                    self.direct = _set_direct(self.fd, False)  # block size over DIRECT_ALIGN)
                    continue
                raise
            if count <= 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            done += count
        self.written += done
        if not self.direct and self.written - self.flushed >= WRITEBACK_BYTES:
            self.flushed = _start_writeback(self.fd, self.flushed, self.written)

    def finish(self) -> int:
        """Write what is buffered and fsync; returns the bytes written."""
        if self.fill:
            self._drain(self.fill // DIRECT_ALIGN * DIRECT_ALIGN)
        if self.fill:  # the unaligned tail
            if self.direct:
                self.direct = _set_direct(self.fd, False)
            view = memoryview(self.buffer)
            with view:
                self._write_all(view[: self.fill])
            self.fill = 0
        os.fsync(self.fd)
        return self.written

    def close(self) -> None:
        buffer, self.buffer = self.buffer, None
        if buffer is not None:
            try:
                buffer.close()
            except BufferError:  # a traceback still holds a view of it: the collector frees it
                pass


READ_AHEAD = 3  # buffers of a one-pass read: one being read from the disk while the others wait


class OnePassReader:
    """A file read once from start to end, straight from the disk (O_DIRECT) where allowed.

    For the same reason as `Sink`: a file written with O_DIRECT is not in the page cache, and
    reading it through the cache cost 2.3 s of kernel CPU per GiB here (readahead into fresh
    pages), against about 0.07 s through reused aligned buffers. O_DIRECT has no kernel
    readahead, so a thread of its own reads the next buffers while the caller works on the last
    one (reads release the GIL). Reads of any size are served from those buffers; where
    O_DIRECT is refused the same reads go through the cache.
    """

    def __init__(self, fd: int):
        self.fd = fd
        self.direct = _set_direct(fd, True)
        self.buffers = [mmap.mmap(-1, DIRECT_BUFFER) for _ in range(READ_AHEAD)]
        self.free: queue.Queue = queue.Queue()
        self.ready: queue.Queue = queue.Queue()
        for buffer in self.buffers:
            self.free.put(buffer)
        self.current = None
        self.start = self.end = 0  # the unread bytes of the current buffer
        self.at_end = False
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._read_ahead, name="store-read-ahead", daemon=True)
        self.thread.start()

    def _read_ahead(self) -> None:
        try:
            while (buffer := self.free.get()) is not None:
                got = self._fill(buffer)
                self.ready.put((buffer, got, None))
                if not got:
                    return
        except BaseException as exc:  # handed to the reader
            self.ready.put((None, 0, exc))

    def _fill(self, buffer) -> int:
        with memoryview(buffer) as view:
            while True:
                try:
                    return os.readv(self.fd, [view])
                except OSError as exc:
                    if exc.errno == errno.EINVAL and self.direct:  # refused after all: through the cache
                        self.direct = _set_direct(self.fd, False)
                        continue
                    raise

    def _next(self) -> None:
        if self.current is not None:
            self.free.put(self.current)
            self.current = None
        buffer, got, error = self.ready.get()
        if error is not None:
            self.error = error
            raise error
        self.current, self.start, self.end, self.at_end = buffer, 0, got, not got

    def read(self, size: int = -1) -> bytes:
        if self.error is not None:
            raise self.error
        parts = []
        want = size if size is not None and size >= 0 else None
        while want is None or want > 0:
            if self.start == self.end:
                if self.at_end:
                    break
                self._next()
                continue
            take = self.end - self.start if want is None else min(want, self.end - self.start)
            with memoryview(self.current) as view:
                parts.append(bytes(view[self.start : self.start + take]))
            self.start += take
            if want is not None:
                want -= take
        return b"".join(parts)  # one part: no second copy

    def close(self) -> None:
        if self.buffers is None:
            return
        self.free.put(None)  # the read-ahead thread stops after the read it is doing, if any
        self.thread.join()
        buffers, self.buffers, self.current = self.buffers, None, None
        for buffer in buffers:
            try:
                buffer.close()
            except BufferError:  # a traceback still holds a view of it: the collector frees it
                pass
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _set_direct(fd: int, on: bool) -> bool:
    """Turn O_DIRECT on or off for `fd`; whether it is on now."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return False
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, (flags | flag) if on else (flags & ~flag))
    except OSError:
        return False
    return on


def _start_writeback(fd: int, start: int, end: int) -> int:
    """Have the kernel start writing [start, end) to disk now, without waiting for it.

    Without this a large file sits dirty in the page cache until the final fsync, which then
    writes it all while nothing else happens; on Linux, FADV_DONTNEED starts the writeback of
    dirty pages asynchronously (and lets clean ones go, so archive bodies do not crowd out the
    page cache). Elsewhere it is only a hint.
    """
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, start, end - start, os.POSIX_FADV_DONTNEED)
    return end

"""The one pass over an uploaded file: verify every segment while copying the body to the archive.

Or two halves of it: `ReceivingCheck` runs that pass over an upload while it is received
(so the web process verifies as the bytes come in, on the core the socket leaves idle),
and `copy_verified` then only copies the body to the archive, checking its sha256 against
the one the verified bytes had; a body that differs falls back to the whole pass.

No Django here: it takes a readable source, a target store and the archive's secret keys, and
either returns what it verified or raises. The body reaches the archive store only chunk by
chunk *after* each chunk's segments have passed their MAC check, and the final checksum
comparison happens before the store commits the object, so a file that fails never appears
in the archive (the store's write is atomic).
"""

import hashlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from gdi_archive.crypt4gh.errors import Crypt4GHError, SegmentAuthenticationError, TruncatedFile, UnsupportedHeader
from gdi_archive.crypt4gh.header import open_header, read_exact, read_header
from gdi_archive.crypt4gh.segments import CIPHER_SEGMENT_SIZE, SEGMENT_SIZE, decrypt_whole_segments, segment_ciphers

CHUNK_SEGMENTS = 64
CHUNK_SIZE = CHUNK_SEGMENTS * CIPHER_SEGMENT_SIZE  # ~4 MiB of whole segments
STAGE_DEPTH = 4  # chunks a stage's queue holds


class ChecksumMismatch(Crypt4GHError):
    """The plaintext is not what the submitter said it is."""


@dataclass(frozen=True)
class Verified:
    header: bytes
    key_index: int
    plaintext_size: int
    stored_size: int
    sha256: str
    md5: str
    stored_sha256: str


def _compare(kind: str, expected: str, got: str) -> None:
    if expected and expected.lower() != got:
        raise ChecksumMismatch(f"checksum mismatch: expected {kind} {expected.lower()}, got {got}")


class _Stage:
    """A thread consuming a bounded queue, so hashing and writing overlap with decryption.

    hashlib and file/socket writes release the GIL, so on two cores the stages really run
    side by side; the bounded queue keeps memory flat whatever the file size.
    """

    def __init__(self, name: str, target, depth: int = 4):  # STAGE_DEPTH for the digest stages
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.result = None
        self.thread = threading.Thread(target=self._run, args=(target,), name=name, daemon=True)
        self.thread.start()

    def _run(self, target) -> None:
        try:
            self.result = target(self._items())
        except BaseException as exc:  # handed to the main thread
            self.error = exc

    def _items(self):
        while True:
            item = self.queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Abort):
                raise item.error
            yield item

    def put(self, item) -> None:
        while True:
            if self.error is not None:
                raise self.error
            if not self.thread.is_alive():
                return
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self):
        self.put(_DONE)
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result

    def abort(self, error: BaseException) -> None:
        if self.thread.is_alive():
            try:
                self.put(_Abort(error))
            except BaseException:
                pass
            self.thread.join(timeout=60)


_DONE = object()


@dataclass(frozen=True)
class _Abort:
    error: BaseException


class _Aborted(Exception):
    """Verification failed elsewhere: the writer must not commit."""


class _Hashes:
    """The three digests of an ingest: sha256 and md5 of the plaintext, sha256 of the stored body."""

    def __init__(self):
        self.plain_sha, self.plain_md5, self.body_sha = hashlib.sha256(), hashlib.md5(), hashlib.sha256()

    def compare(self, expected_sha256: str, expected_md5: str) -> None:
        _compare("sha256", expected_sha256, self.plain_sha.hexdigest())
        _compare("md5", expected_md5, self.plain_md5.hexdigest())


def _digest(hash_object, blocks) -> None:
    for block in blocks:  # one big block per chunk: hashlib lets go of the GIL while it hashes
        hash_object.update(block)


def _open_body(source: BinaryIO, secret_keys: list[bytes]):
    """Read and open the header; the archive stores no file whose header carries an edit list."""
    header = read_header(source)
    opened = open_header(header, secret_keys)
    if opened.edit_list is not None:
        raise UnsupportedHeader("The file's header has an edit list; upload the whole file encrypted without one.")
    return header, opened


def _decrypt_chunk(chunk: bytes, ciphers, segment: int, into: bytearray | None = None):
    """Decrypt one chunk of whole segments, telling a truncated last segment from a forged one."""
    try:
        return decrypt_whole_segments(chunk, ciphers, start_segment=segment, into=into)
    except SegmentAuthenticationError as exc:
        segments_here = -(-len(chunk) // CIPHER_SEGMENT_SIZE)
        last = segment + segments_here - 1
        last_is_short = len(chunk) - (segments_here - 1) * CIPHER_SEGMENT_SIZE < CIPHER_SEGMENT_SIZE
        if len(chunk) < CHUNK_SIZE and exc.segment_index == last and last_is_short:
            raise TruncatedFile(f"The Crypt4GH file is truncated: its last segment ({last}) is incomplete.") from exc
        raise


def verify_and_store(
    *,
    source: BinaryIO,
    archive,
    archive_key: str,
    secret_keys: list[bytes],
    expected_sha256: str = "",
    expected_md5: str = "",
    on_progress: Callable[[int], None] | None = None,
    on_verified: Callable[[], None] | None = None,
) -> Verified:
    """Open the header, decrypt and hash every segment, and write the body to `archive_key`.

    Work is spread over both cores: decryption (which holds the GIL) runs here, while the
    sha256 and the md5 of the plaintext and the writer (with the body's sha256) each run in a
    thread of their own, since hashlib and file/socket writes let go of the GIL. A chunk goes to
    the writer only after its segments passed their MAC check, and the writer commits only
    after the checksums compared equal. Callbacks run in the calling thread (they touch the
    database): `on_progress(bytes_read)` after every chunk, `on_verified()` once everything
    checked out, just before the store commits.
    Raises a Crypt4GHError (its message is for the submitter) or a storage error.
    """
    header, opened = _open_body(source, secret_keys)
    ciphers = segment_ciphers(opened.session_keys)
    hashes = _Hashes()

    def write_body(chunks) -> int:
        def hashed():
            for chunk in chunks:
                hashes.body_sha.update(chunk)
                yield chunk

        return archive.write(archive_key, hashed())

    stages = [
        _Stage("ingest-sha256", lambda blocks: _digest(hashes.plain_sha, blocks), depth=STAGE_DEPTH),
        _Stage("ingest-md5", lambda blocks: _digest(hashes.plain_md5, blocks), depth=STAGE_DEPTH),
    ]
    writer = _Stage("ingest-write", write_body)
    # The plaintext buffers go round a ring. Only the two digest stages read them, each from a
    # FIFO queue of at most STAGE_DEPTH items: once chunk k-1 is queued, each stage has taken
    # chunk k-1-STAGE_DEPTH and so finished chunk k-2-STAGE_DEPTH, whose buffer chunk k reuses.
    ring = [bytearray(CHUNK_SEGMENTS * SEGMENT_SIZE) for _ in range(STAGE_DEPTH + 2)]
    read, segment, plaintext_size, turn = len(header), 0, 0, 0
    try:
        while chunk := read_exact(source, CHUNK_SIZE):
            plain = _decrypt_chunk(chunk, ciphers, segment, into=ring[turn % len(ring)])
            turn += 1
            segment += -(-len(chunk) // CIPHER_SEGMENT_SIZE)
            plaintext_size += len(plain)
            for stage in stages:
                stage.put(plain)  # read-only in both threads
            writer.put(chunk)
            read += len(chunk)
            if on_progress:
                on_progress(read)
        for stage in stages:
            stage.finish()
        hashes.compare(expected_sha256, expected_md5)
        if on_verified:
            on_verified()
        stored = writer.finish()
    except BaseException as exc:
        for stage in (*stages, writer):
            stage.abort(_Aborted())
        raise exc
    return Verified(
        header=header,
        key_index=opened.key_index,
        plaintext_size=plaintext_size,
        stored_size=stored,
        sha256=hashes.plain_sha.hexdigest(),
        md5=hashes.plain_md5.hexdigest(),
        stored_sha256=hashes.body_sha.hexdigest(),
    )


# --- verifying while the upload is received, then only copying ------------------------------


class NotAsReceived(Exception):
    """The inbox object is not the one verified while it was received: verify it all again."""


class _Discard:
    """A store that keeps nothing: the pass over an upload being received only verifies."""

    def write(self, key: str, chunks) -> int:
        return sum(len(chunk) for chunk in chunks)


class _FedSource:
    """A readable stream over chunks handed over from another thread, without copying them."""

    def __init__(self, chunks):
        self.chunks, self.chunk, self.offset = iter(chunks), b"", 0

    def read(self, size: int = -1) -> bytes:
        if self.offset >= len(self.chunk):
            self.chunk, self.offset = next(self.chunks, b""), 0
        if self.offset == 0 and (size < 0 or size >= len(self.chunk)):
            self.offset = len(self.chunk)
            return self.chunk
        end = len(self.chunk) if size < 0 else self.offset + size
        piece = self.chunk[self.offset : end]
        self.offset += len(piece)
        return piece


class ReceivingCheck:
    """The whole verification of an upload, fed with its chunks as they arrive.

    `wrap(chunks)` passes the chunks on unchanged (to the inbox store) and hands each to a
    thread running `verify_and_store`, with a store that keeps nothing or, given `archive` and
    `staged_key`, writing the body there as it is verified (committed only if all of it is), so
    that the run can take that object as it is instead of copying the body again. `result()` is the
    Verified once every chunk went through, or None when the file did not verify (the run
    will then find the same fault itself and fail the file with the usual message): the
    upload is never refused for what is in it, only its run is made cheaper.
    """

    def __init__(
        self,
        *,
        secret_keys: list[bytes],
        expected_sha256: str = "",
        expected_md5: str = "",
        archive=None,
        staged_key: str = "",
    ):
        def verify(chunks):
            try:
                return verify_and_store(
                    source=_FedSource(chunks),
                    archive=archive if archive is not None else _Discard(),
                    archive_key=staged_key,
                    secret_keys=secret_keys,
                    expected_sha256=expected_sha256,
                    expected_md5=expected_md5,
                )
            except Crypt4GHError:
                for _ in chunks:  # keep taking what the upload hands over, so it never waits
                    pass
                return None

        self.stage = _Stage("ingest-receive", verify)

    def wrap(self, chunks):
        for chunk in chunks:
            try:
                self.stage.put(chunk)
            except BaseException:  # the check broke (not the file): the run verifies all itself
                pass
            yield chunk

    def result(self) -> Verified | None:
        try:
            return self.stage.finish()
        except BaseException:
            return None

    def abort(self) -> None:
        self.stage.abort(_Aborted())


def copy_verified(
    *,
    source: BinaryIO,
    archive,
    archive_key: str,
    secret_keys: list[bytes],
    received: Verified,
    on_progress: Callable[[int], None] | None = None,
    on_verified: Callable[[], None] | None = None,
) -> Verified:
    """Copy a body verified while it was received to `archive_key`, proving it is the same body.

    The header must open with the archive's keys and be the one verified; the body's sha256,
    computed here over exactly the bytes written, must equal the sha256 of the body whose
    every segment passed its MAC check and whose plaintext gave `received`'s checksums.
    Otherwise NotAsReceived is raised before the store commits (nothing is kept). Reading,
    hashing and writing run in three threads. Callbacks as for `verify_and_store`.
    """
    header, opened = _open_body(source, secret_keys)
    if header != received.header:
        raise NotAsReceived("the header is not the one verified on upload")
    body_sha = hashlib.sha256()
    hasher = _Stage("ingest-sha256", lambda blocks: _digest(body_sha, blocks))
    writer = _Stage("ingest-write", lambda chunks: archive.write(archive_key, chunks))
    read = len(header)
    try:
        while chunk := source.read(CHUNK_SIZE):
            hasher.put(chunk)
            writer.put(chunk)
            read += len(chunk)
            if on_progress:
                on_progress(read)
        hasher.finish()
        if read - len(header) != received.stored_size or body_sha.hexdigest() != received.stored_sha256:
            raise NotAsReceived("the body is not the one verified on upload")
        if on_verified:
            on_verified()
        stored = writer.finish()
    except BaseException as exc:
        for stage in (hasher, writer):
            stage.abort(_Aborted())
        raise exc
    return Verified(
        header=header,
        key_index=opened.key_index,
        plaintext_size=received.plaintext_size,
        stored_size=stored,
        sha256=received.sha256,
        md5=received.md5,
        stored_sha256=body_sha.hexdigest(),
    )

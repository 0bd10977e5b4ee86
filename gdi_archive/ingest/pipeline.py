"""The one pass over an uploaded file: verify every segment while copying the body to the archive.

No Django here: it takes a readable source, a target store and the archive's secret keys, and
either returns what it verified or raises. The body reaches the archive store only chunk by
chunk *after* each chunk's segments have passed their MAC check, and the final checksum
comparison happens before the store commits the object, so a file that fails never appears
in the archive (the store's write is atomic).
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from gdi_archive.crypt4gh.errors import Crypt4GHError, SegmentAuthenticationError, TruncatedFile, UnsupportedHeader
from gdi_archive.crypt4gh.header import open_header, read_header
from gdi_archive.crypt4gh.segments import CIPHER_SEGMENT_SIZE, decrypt_segments

CHUNK_SEGMENTS = 64
CHUNK_SIZE = CHUNK_SEGMENTS * CIPHER_SEGMENT_SIZE  # ~4 MiB of whole segments


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


def _read_exact(source: BinaryIO, size: int) -> bytes:
    """`size` bytes or fewer only at the end (S3 and HTTP bodies return short reads)."""
    data = source.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = source.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _compare(kind: str, expected: str, got: str) -> None:
    if expected and expected.lower() != got:
        raise ChecksumMismatch(f"checksum mismatch: expected {kind} {expected.lower()}, got {got}")


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

    `on_progress(bytes_read)` is called after every chunk (the caller decides how often to
    record it); `on_verified()` once everything checked out, just before the store commits.
    Raises a Crypt4GHError (its message is for the submitter) or a storage error.
    """
    header = read_header(source)
    opened = open_header(header, secret_keys)
    if opened.edit_list is not None:
        raise UnsupportedHeader("The file's header has an edit list; upload the whole file encrypted without one.")
    session_keys = list(opened.session_keys)
    plain_sha, plain_md5, body_sha = hashlib.sha256(), hashlib.md5(), hashlib.sha256()
    totals = {"plain": 0, "read": len(header)}

    def verified_body():
        segment = 0
        while True:
            chunk = _read_exact(source, CHUNK_SIZE)
            if not chunk:
                break
            segments_here = -(-len(chunk) // CIPHER_SEGMENT_SIZE)
            try:
                for plain in decrypt_segments((chunk,), session_keys, start_segment=segment):
                    plain_sha.update(plain)
                    plain_md5.update(plain)
                    totals["plain"] += len(plain)
            except SegmentAuthenticationError as exc:
                last = segment + segments_here - 1
                last_is_short = len(chunk) - (segments_here - 1) * CIPHER_SEGMENT_SIZE < CIPHER_SEGMENT_SIZE
                if len(chunk) < CHUNK_SIZE and exc.segment_index == last and last_is_short:
                    raise TruncatedFile(
                        f"The Crypt4GH file is truncated: its last segment ({last}) is incomplete."
                    ) from exc
                raise
            segment += segments_here
            body_sha.update(chunk)
            totals["read"] += len(chunk)
            if on_progress:
                on_progress(totals["read"])
            yield chunk
        _compare("sha256", expected_sha256, plain_sha.hexdigest())
        _compare("md5", expected_md5, plain_md5.hexdigest())
        if on_verified:
            on_verified()

    stored = archive.write(archive_key, verified_body())
    return Verified(
        header=header,
        key_index=opened.key_index,
        plaintext_size=totals["plain"],
        stored_size=stored,
        sha256=plain_sha.hexdigest(),
        md5=plain_md5.hexdigest(),
        stored_sha256=body_sha.hexdigest(),
    )

"""Crypt4GH data segments: size arithmetic, range planning, streaming decrypt and encrypt.

Our own arithmetic (standards.md C.6-C.9) because `crypt4gh.lib.decrypt` returns the wrong
bytes for offsets past the first segment (C.13). Ranges are half-open [start, end) in
plaintext bytes; body offsets count from the first segment (the header is not included).
"""

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from crypt4gh import sodium
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .errors import RangeNotSatisfiable, SegmentAuthenticationError, TruncatedFile
from .header import build_header

SEGMENT_SIZE = 65536
CIPHER_DIFF = 28  # nonce (12) + MAC (16)
CIPHER_SEGMENT_SIZE = SEGMENT_SIZE + CIPHER_DIFF  # 65564
# Edit list for an empty range: no segments are sent, so "discard 0, keep the rest" yields
# nothing. Not (0, 0): crypt4gh 1.8.6 `decrypt` asserts on a zero-length keep.
EMPTY_EDIT_LIST = (0,)


def body_size(plaintext_size: int) -> int:
    full, rest = divmod(plaintext_size, SEGMENT_SIZE)
    return full * CIPHER_SEGMENT_SIZE + (rest + CIPHER_DIFF if rest else 0)


def plaintext_size(body_size: int) -> int:
    full, rest = divmod(body_size, CIPHER_SEGMENT_SIZE)
    if rest and rest <= CIPHER_DIFF:
        raise TruncatedFile("The Crypt4GH body ends with a segment too short to hold any data; the file is truncated.")
    return full * SEGMENT_SIZE + (rest - CIPHER_DIFF if rest else 0)


@dataclass(frozen=True)
class RangePlan:
    """Which stored segments serve plaintext [start, end), and the edit list that trims them."""

    start: int
    end: int
    first_segment: int
    last_segment: int  # inclusive; first_segment - 1 when the range is empty
    body_start: int
    body_end: int
    edit_list: tuple[int, ...]

    @property
    def segment_count(self) -> int:
        return self.last_segment - self.first_segment + 1

    @property
    def length(self) -> int:
        return self.end - self.start


def _clamp(plaintext_size: int, start: int, end: int | None) -> tuple[int, int]:
    if not isinstance(start, int) or start < 0:
        raise ValueError("The range start must be a whole number, 0 or more.")
    if end is not None and (not isinstance(end, int) or end < start):
        raise ValueError("The range end must be a whole number not smaller than the start.")
    if plaintext_size < 0:
        raise ValueError("A size cannot be negative.")
    if start >= plaintext_size and (plaintext_size > 0 or start > 0):
        raise RangeNotSatisfiable(f"The range starts at byte {start}, but the file has {plaintext_size} bytes.")
    end = plaintext_size if end is None or end > plaintext_size else end
    return start, end


def plan_range(plaintext_size: int, start: int, end: int | None) -> RangePlan:
    """Plan the whole segments covering [start, end) and the edit list `(head discard, keep)`.

    `end` None or past the size is clamped to the size; a start at or past the end of a
    non-empty file raises RangeNotSatisfiable. An empty range has no segments and the edit
    list EMPTY_EDIT_LIST.
    """
    start, end = _clamp(plaintext_size, start, end)
    first = start // SEGMENT_SIZE
    if start == end:
        offset = min(first * CIPHER_SEGMENT_SIZE, body_size(plaintext_size))
        return RangePlan(start, end, first, first - 1, offset, offset, EMPTY_EDIT_LIST)
    last = (end - 1) // SEGMENT_SIZE
    return RangePlan(
        start=start,
        end=end,
        first_segment=first,
        last_segment=last,
        body_start=first * CIPHER_SEGMENT_SIZE,
        body_end=min((last + 1) * CIPHER_SEGMENT_SIZE, body_size(plaintext_size)),
        edit_list=(start - first * SEGMENT_SIZE, end - start),
    )


@dataclass(frozen=True)
class MultiRangePlan:
    """Several plaintext ranges served as one spliced Crypt4GH stream.

    `spans` are half-open body byte ranges to copy in order; `edit_list` is measured over the
    plaintext of the kept segments only (standards.md C.8 splicing recipe).
    """

    ranges: tuple[tuple[int, int], ...]  # the merged, clamped plaintext ranges
    segments: tuple[tuple[int, int], ...]  # (first, last) inclusive segment runs, one per span
    spans: tuple[tuple[int, int], ...]
    edit_list: tuple[int, ...]

    @property
    def body_length(self) -> int:
        return sum(end - start for start, end in self.spans)

    @property
    def length(self) -> int:
        return sum(end - start for start, end in self.ranges)


def plan_regions(plaintext_size: int, ranges: list[tuple[int, int]]) -> MultiRangePlan:
    """Plan several plaintext ranges at once.

    Ranges are clamped, sorted and merged where they overlap or touch (an edit list cannot
    emit bytes twice or go back); ranges whose segments touch share one body span. Empty
    ranges are dropped; if nothing is left the plan has no spans (and EMPTY_EDIT_LIST).
    """
    if not ranges:
        raise ValueError("At least one range is needed.")
    clamped = []
    for start, end in ranges:
        if end is not None and end == start and start <= plaintext_size:
            continue
        clamped.append(_clamp(plaintext_size, start, end))
    clamped = [(s, e) for s, e in clamped if e > s]
    merged: list[list[int]] = []
    for start, end in sorted(clamped):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if not merged:
        return MultiRangePlan(ranges=(), segments=(), spans=(), edit_list=EMPTY_EDIT_LIST)
    # Group ranges into runs of consecutive segments.
    runs: list[list] = []  # [first, last, [ranges]]
    for start, end in merged:
        first, last = start // SEGMENT_SIZE, (end - 1) // SEGMENT_SIZE
        if runs and first <= runs[-1][1] + 1:
            runs[-1][1] = max(runs[-1][1], last)
            runs[-1][2].append((start, end))
        else:
            runs.append([first, last, [(start, end)]])
    full_body = body_size(plaintext_size)
    edit_list, cursor, kept_before = [], 0, 0
    for first, last, run_ranges in runs:
        run_origin = first * SEGMENT_SIZE
        for start, end in run_ranges:
            at = kept_before + (start - run_origin)
            edit_list += [at - cursor, end - start]
            cursor = at + (end - start)
        kept_before += min((last + 1) * SEGMENT_SIZE, plaintext_size) - run_origin
    return MultiRangePlan(
        ranges=tuple((s, e) for s, e in merged),
        segments=tuple((first, last) for first, last, _ in runs),
        spans=tuple(
            (first * CIPHER_SEGMENT_SIZE, min((last + 1) * CIPHER_SEGMENT_SIZE, full_body)) for first, last, _ in runs
        ),
        edit_list=tuple(edit_list),
    )


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[memoryview | bytes]:
    """Cut a stream of arbitrary chunks into pieces of exactly `size` (the last may be shorter).

    Holds at most one piece plus the current chunk: no copying of big chunks into a buffer.
    """
    pending = bytearray()
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        if pending:
            take = size - len(pending)
            pending += view[:take]
            view = view[take:]
            if len(pending) < size:
                continue
            yield bytes(pending)
            pending.clear()
        offset = 0
        while len(view) - offset >= size:
            yield view[offset : offset + size]
            offset += size
        pending += view[offset:]
    if pending:
        yield bytes(pending)


def segment_ciphers(session_keys) -> list[ChaCha20Poly1305]:
    """One AEAD object per session key (the same IETF ChaCha20-Poly1305 as libsodium's, through
    OpenSSL: about twice as fast here as the crypt4gh package's own binding)."""
    return [ChaCha20Poly1305(bytes(key)) for key in session_keys]


def _open_into(cipher, ciphers, index: int, out) -> None:
    """Check one segment's MAC and decrypt it into `out` (exactly its plaintext length)."""
    nonce, sealed = cipher[:12], cipher[12:]
    for aead in ciphers:
        try:
            aead.decrypt_into(nonce, sealed, None, out)
            return
        except InvalidTag:
            continue
    raise SegmentAuthenticationError(index)


def decrypt_segments(chunks: Iterable[bytes], session_keys, *, start_segment: int = 0) -> Iterator[bytes]:
    """Decrypt a body given as chunks of any size, one plaintext segment at a time.

    Every segment's MAC is checked (SegmentAuthenticationError names the segment, counted
    from `start_segment`); each session key is tried, since a file may use several.
    """
    ciphers = segment_ciphers(session_keys)
    index = start_segment
    for cipher in _rechunk(chunks, CIPHER_SEGMENT_SIZE):
        if len(cipher) <= CIPHER_DIFF:
            raise TruncatedFile(f"The Crypt4GH body is truncated: segment {index} has only {len(cipher)} bytes.")
        plain = bytearray(len(cipher) - CIPHER_DIFF)
        _open_into(cipher, ciphers, index, plain)
        yield bytes(plain)
        index += 1


def decrypt_whole_segments(body: bytes, ciphers, *, start_segment: int = 0, into: bytearray | None = None):
    """Decrypt a piece of body that starts on a segment boundary into one buffer, no copies.

    For the ingest pipeline, which reads the body in large pieces: only the last segment of
    the piece may be short. `ciphers` come from `segment_ciphers`. With `into` (a buffer at
    least as large as the plaintext) the plaintext goes there and a memoryview of exactly its
    length is returned: a fresh zeroed buffer per piece cost more than half the decryption.
    """
    view = memoryview(body).cast("B")
    full, rest = divmod(len(view), CIPHER_SEGMENT_SIZE)
    if rest and rest <= CIPHER_DIFF:
        raise TruncatedFile(f"The Crypt4GH body is truncated: segment {start_segment + full} has only {rest} bytes.")
    size = full * SEGMENT_SIZE + (rest - CIPHER_DIFF if rest else 0)
    plain = bytearray(size) if into is None or len(into) < size else memoryview(into)[:size]
    out = memoryview(plain)
    for n in range(full + (1 if rest else 0)):
        cipher = view[n * CIPHER_SEGMENT_SIZE : (n + 1) * CIPHER_SEGMENT_SIZE]
        _open_into(
            cipher, ciphers, start_segment + n, out[n * SEGMENT_SIZE : n * SEGMENT_SIZE + len(cipher) - CIPHER_DIFF]
        )
    return plain


def apply_edit_list(plaintext_chunks: Iterable[bytes], edit_list) -> Iterator[bytes]:
    """Apply discard/keep lengths; an odd count keeps the rest, an even count drops it."""
    if not edit_list:
        yield from plaintext_chunks
        return
    lengths = list(edit_list)
    step, remaining = 0, lengths[0]
    for chunk in plaintext_chunks:
        view = memoryview(chunk).cast("B")
        while view:
            while remaining == 0 and step < len(lengths):
                step += 1
                remaining = lengths[step] if step < len(lengths) else 0
            if step >= len(lengths):
                if len(lengths) % 2:  # ended on a discard: keep everything after it
                    yield bytes(view)
                    break
                return  # ended on a keep: the rest is dropped, stop reading
            take = min(remaining, len(view))
            if step % 2:
                yield bytes(view[:take])
            view = view[take:]
            remaining -= take


def encrypt_segments(chunks: Iterable[bytes], session_key: bytes) -> Iterator[bytes]:
    """Encrypt plaintext chunks into Crypt4GH segments (random nonce per segment)."""
    scratch = bytearray(CIPHER_SEGMENT_SIZE)
    for plain in _rechunk(chunks, SEGMENT_SIZE):
        size = sodium.chacha20poly1305_encrypt(scratch, plain, session_key)
        with memoryview(scratch) as view:
            yield bytes(view[:size])


def encrypt_stream(
    chunks: Iterable[bytes], recipient_public_keys: list[bytes], *, writer_secret_key: bytes | None = None
) -> Iterator[bytes]:
    """A complete Crypt4GH stream: the header, then the segments, under a fresh data key."""
    session_key = os.urandom(32)
    yield build_header([session_key], recipient_public_keys, writer_secret_key=writer_secret_key)
    yield from encrypt_segments(chunks, session_key)

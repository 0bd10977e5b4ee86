"""Segment arithmetic and streaming decryption, against files made by the `crypt4gh` tool."""

import io
import os
import tracemalloc

import pytest

from gdi_archive.crypt4gh import (
    CIPHER_SEGMENT_SIZE,
    SEGMENT_SIZE,
    SegmentAuthenticationError,
    TruncatedFile,
    apply_edit_list,
    body_size,
    build_header,
    decrypt_segments,
    encrypt_stream,
    open_header,
    plaintext_size,
    read_header,
)
from gdi_archive.crypt4gh.segments import encrypt_segments

from .tools import cli_decrypt, cli_encrypt, payload


def chunked(data: bytes, size: int):
    for i in range(0, len(data), size):
        yield data[i : i + size]


def our_decrypt(blob: bytes, sk: bytes, chunk_size: int = 100_000) -> bytes:
    stream = io.BytesIO(blob)
    opened = open_header(read_header(stream), [sk])
    body = decrypt_segments(chunked(stream.read(), chunk_size), opened.session_keys)
    return b"".join(apply_edit_list(body, opened.edit_list))


def test_constants():
    assert (SEGMENT_SIZE, CIPHER_SEGMENT_SIZE) == (65536, 65564)


@pytest.mark.parametrize(
    "plain, body",
    [
        (0, 0),
        (1, 29),
        (65535, 65563),
        (65536, 65564),
        (65537, 65564 + 29),
        (131072, 131128),
        (300000, 4 * 65564 + 37856 + 28),
    ],
)
def test_body_and_plaintext_sizes(plain, body):
    assert body_size(plain) == body
    assert plaintext_size(body) == plain


@pytest.mark.parametrize("body", [1, 28, 65564 + 28, 2 * 65564 + 5])
def test_impossible_body_sizes_mean_truncation(body):
    with pytest.raises(TruncatedFile):
        plaintext_size(body)


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 200000])
def test_cli_encrypted_files_decrypt_byte_exact(archive_key, size):
    data = payload(size, seed=size)
    blob = cli_encrypt(data, archive_key)
    assert len(blob) == 124 + body_size(size)
    for chunk_size in (4093, CIPHER_SEGMENT_SIZE, 1 << 20):
        assert our_decrypt(blob, archive_key.sk, chunk_size) == data


def test_tiny_chunks(archive_key):
    data = payload(70000)
    assert our_decrypt(cli_encrypt(data, archive_key), archive_key.sk, chunk_size=7) == data


@pytest.mark.parametrize("size", [0, 10, 65536, 140000])
def test_encrypt_stream_output_decrypts_with_the_cli(user_key, other_key, size):
    data = payload(size, seed=3)
    blob = b"".join(encrypt_stream(chunked(data, 9999), [user_key.pk, other_key.pk]))
    assert cli_decrypt(blob, user_key) == data
    assert cli_decrypt(blob, other_key) == data


def test_segments_under_different_data_keys(archive_key, user_key):
    """Several data keys are legal: each segment may use any of them."""
    k1, k2 = os.urandom(32), os.urandom(32)
    data = payload(4 * SEGMENT_SIZE + 5)
    body = b"".join(
        next(encrypt_segments([data[i : i + SEGMENT_SIZE]], (k1, k2)[n % 2]))
        for n, i in enumerate(range(0, len(data), SEGMENT_SIZE))
    )
    assert b"".join(decrypt_segments([body], [k1, k2])) == data
    assert cli_decrypt(build_header([k1, k2], [user_key.pk]) + body, user_key) == data


@pytest.mark.parametrize("segment", [0, 2, 3])
def test_tampered_segment_names_its_index(archive_key, segment):
    data = payload(3 * SEGMENT_SIZE + 100)
    stream = io.BytesIO(cli_encrypt(data, archive_key))
    keys = open_header(read_header(stream), [archive_key.sk]).session_keys
    body = bytearray(stream.read())
    body[segment * CIPHER_SEGMENT_SIZE + 40] ^= 0x01
    out = []
    with pytest.raises(SegmentAuthenticationError, match=f"segment {segment} fails authentication") as caught:
        for plain in decrypt_segments(chunked(bytes(body), 50000), keys):
            out.append(plain)
    assert caught.value.segment_index == segment
    assert b"".join(out) == data[: segment * SEGMENT_SIZE]  # nothing unauthenticated came out
    with pytest.raises(SegmentAuthenticationError, match=f"segment {segment + 10} fails"):
        list(decrypt_segments([bytes(body)], keys, start_segment=10))


def test_wrong_data_key_fails_at_segment_zero(archive_key):
    blob = cli_encrypt(payload(100), archive_key)
    with pytest.raises(SegmentAuthenticationError) as caught:
        list(decrypt_segments([blob[124:]], [os.urandom(32)]))
    assert caught.value.segment_index == 0


def test_truncated_bodies(archive_key):
    data = payload(2 * SEGMENT_SIZE + 1000)
    stream = io.BytesIO(cli_encrypt(data, archive_key))
    keys = open_header(read_header(stream), [archive_key.sk]).session_keys
    body = stream.read()
    with pytest.raises(TruncatedFile):  # a final piece too short to be a segment
        list(decrypt_segments([body[: 2 * CIPHER_SEGMENT_SIZE + 20]], keys))
    with pytest.raises(SegmentAuthenticationError) as caught:  # cut inside a segment: its MAC is gone
        list(decrypt_segments([body[: 2 * CIPHER_SEGMENT_SIZE + 500]], keys))
    assert caught.value.segment_index == 2


@pytest.mark.parametrize(
    "edits, expected",
    [
        (None, b"abcdefghij"),
        ((), b"abcdefghij"),
        ((0, 3), b"abc"),
        ((2, 3), b"cde"),
        ((2,), b"cdefghij"),
        ((1, 2, 3), b"bcghij"),
        ((1, 2, 3, 1), b"bcg"),
        ((0, 0), b""),
        ((0, 100), b"abcdefghij"),
        ((20,), b""),
    ],
)
def test_apply_edit_list(edits, expected):
    for size in (1, 3, 10):
        assert b"".join(apply_edit_list(chunked(b"abcdefghij", size), edits)) == expected


def test_decrypting_a_large_stream_keeps_memory_flat(archive_key):
    """32 MiB through encrypt and decrypt, both streaming: Python allocations stay O(segment)."""
    chunk = payload(1 << 20)

    def source():
        for _ in range(32):
            yield chunk

    stream = encrypt_stream(source(), [archive_key.pk])
    header = next(stream)
    keys = open_header(header, [archive_key.sk]).session_keys
    tracemalloc.start()
    try:
        total = sum(len(p) for p in decrypt_segments(stream, keys))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 32 << 20
    assert peak < 4 << 20, f"peak Python allocations {peak} bytes"

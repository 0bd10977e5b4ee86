"""The Store contract, run against LocalStore and S3Store (a real SeaweedFS S3 server)."""

import os

import pytest
import requests

from gdi_archive.storage import InvalidKey, LocalStore, ObjectNotFound, S3Store

from .conftest import SMALL_PART

DATA = os.urandom(300_000)


def pieces(data: bytes, size: int = 65536):
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_write_then_read_back(store):
    assert store.write("ds/file.c4gh", pieces(DATA)) == len(DATA)
    assert store.exists("ds/file.c4gh")
    assert store.size("ds/file.c4gh") == len(DATA)
    with store.open("ds/file.c4gh") as handle:
        parts = []
        while chunk := handle.read(100_000):
            assert len(chunk) <= 100_000
            parts.append(chunk)
    assert b"".join(parts) == DATA
    with store.open("ds/file.c4gh") as handle:  # readinto, as io.BufferedReader and crypt4gh use
        buffer = bytearray(1000)
        assert handle.readinto(buffer) == 1000 and bytes(buffer) == DATA[:1000]


def test_overwrite_replaces_and_empty_objects_work(store):
    store.write("k", [b"first version"])
    store.write("k", [b"second"])
    assert b"".join(store.iter_range("k")) == b"second"
    assert store.write("empty", iter(())) == 0
    assert store.size("empty") == 0 and b"".join(store.iter_range("empty")) == b""


@pytest.mark.parametrize(
    "start, end",
    [
        (0, None),
        (0, 1),
        (5, 10),
        (65535, 65537),
        (299_999, None),
        (100, 100),
        (250_000, 400_000),
        (300_000, None),
        (400_000, None),
    ],
)
def test_ranges_are_half_open(store, start, end):
    store.write("r", pieces(DATA))
    got = list(store.iter_range("r", start, end, chunk_size=40_000))
    assert all(0 < len(chunk) <= 40_000 for chunk in got)
    assert b"".join(got) == DATA[start:end]


def test_bad_ranges_are_refused(store):
    store.write("r", [b"abc"])
    with pytest.raises(ValueError):
        list(store.iter_range("r", 5, 2))
    with pytest.raises(ValueError):
        list(store.iter_range("r", -1))


def test_missing_objects(store):
    with pytest.raises(ObjectNotFound):
        store.open("nope")
    with pytest.raises(ObjectNotFound):
        store.size("nope")
    with pytest.raises(ObjectNotFound):
        list(store.iter_range("nope", 0, 10))
    with pytest.raises(ObjectNotFound):
        list(store.iter_range("nope", 3, 3))
    assert not store.exists("nope")
    store.delete("nope")  # idempotent


def test_list_and_delete(store):
    for key in ("b/2", "a/1", "a/sub/3", "c"):
        store.write(key, [key.encode()])
    assert list(store.list()) == ["a/1", "a/sub/3", "b/2", "c"]
    assert list(store.list("a/")) == ["a/1", "a/sub/3"]
    assert list(store.list("zzz")) == []
    store.delete("a/1")
    store.delete("a/1")
    assert not store.exists("a/1") and list(store.list("a/")) == ["a/sub/3"]


def test_a_failed_write_leaves_nothing(store):
    """A generator that breaks half-way (client gone, checksum mismatch...) leaves no object."""
    store.write("kept", [b"the old content"])

    def broken(total):
        sent = 0
        while sent < total:
            yield b"x" * 1_048_576
            sent += 1_048_576
        raise RuntimeError("upload interrupted")

    for key in ("new", "kept"):
        with pytest.raises(RuntimeError, match="interrupted"):
            store.write(key, broken(SMALL_PART + 2_000_000))  # past one part: a multipart upload on S3
    assert not store.exists("new")
    assert b"".join(store.iter_range("kept")) == b"the old content"
    assert list(store.list()) == ["kept"]  # no temp files, no half objects
    if isinstance(store, S3Store):
        assert store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    else:
        assert sorted(p.name for p in store.root.iterdir()) == ["kept"]


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../escape", "a/../../b", "a/./b", "a//b", "a/", "a\\b", "a\x00b", "line\nbreak", "x" * 2000],
)
def test_unsafe_keys_are_refused(store, key):
    for call in (
        lambda: store.write(key, [b"x"]),
        lambda: store.open(key),
        lambda: store.size(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: list(store.iter_range(key)),
    ):
        with pytest.raises(InvalidKey):
            call()


def test_ping_and_readiness(store):
    store.ping()
    assert store.free_space() is None or store.free_space() > 0


def test_presigned_urls(store):
    store.write("p/file", pieces(DATA))
    url = store.presigned_url("p/file", expires_in=60)
    if isinstance(store, LocalStore):
        assert url is None
        return
    assert requests.get(url, timeout=10).content == DATA
    ranged = store.presigned_url("p/file", expires_in=60, start=1000, end=70000)
    response = requests.get(ranged, headers={"Range": "bytes=1000-69999"}, timeout=10)
    assert response.status_code == 206 and response.content == DATA[1000:70000]


def test_errors_from_the_source_are_not_blamed_on_the_store(store):
    """A dropped client connection while uploading is the caller's error, not 'storage down'."""

    def client_went_away():
        yield b"x" * 1000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.write("upload", client_went_away())
    assert not store.exists("upload")

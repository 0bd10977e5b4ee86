"""What only the S3 backend does: multipart uploads, prefixes, buckets, unreachable endpoints."""

import os
import time

import pytest
from botocore.exceptions import ClientError

from gdi_archive.storage import ObjectNotFound, StorageError, StorageFull, StorageUnavailable
from gdi_archive.storage.s3 import _translate

from ..conftest import free_port
from .conftest import SMALL_PART, make_s3

pytestmark = pytest.mark.s3


def test_big_objects_go_up_in_parts(s3_server):
    store = make_s3(s3_server, part_size=SMALL_PART)
    store.ensure_ready()
    data = os.urandom(2 * SMALL_PART + 12345)
    assert store.write("big", (data[i : i + 1_000_000] for i in range(0, len(data), 1_000_000))) == len(data)
    etag = store.client.head_object(Bucket=store.bucket, Key="big")["ETag"]
    assert etag.strip('"').endswith("-3")  # three parts: S3's multipart ETag form
    assert b"".join(store.iter_range("big", chunk_size=1 << 20)) == data
    assert (
        b"".join(store.iter_range("big", SMALL_PART - 10, SMALL_PART + 10)) == data[SMALL_PART - 10 : SMALL_PART + 10]
    )


def test_small_objects_are_a_single_put(s3_server):
    store = make_s3(s3_server, part_size=SMALL_PART)
    store.ensure_ready()
    store.write("small", [b"a" * 1000, b"b" * 1000])
    assert "-" not in store.client.head_object(Bucket=store.bucket, Key="small")["ETag"]


def test_prefix_is_invisible_to_callers(s3_server):
    bucket = make_s3(s3_server).bucket
    whole = make_s3(s3_server, bucket=bucket)
    whole.ensure_ready()
    inside = make_s3(s3_server, bucket=bucket, prefix="/archive/v1/")
    inside.write("ds/a", [b"x"])
    assert list(inside.list()) == ["ds/a"]
    assert list(whole.list()) == ["archive/v1/ds/a"]
    assert inside.url.endswith("/archive/v1")


def test_missing_bucket_is_unavailable_until_created(s3_server):
    store = make_s3(s3_server)
    with pytest.raises(StorageUnavailable, match="does not exist"):
        store.ping()
    with pytest.raises(StorageUnavailable):
        store.write("k", [b"x"])
    store.ensure_ready()
    store.ensure_ready()  # idempotent
    store.ping()


def test_unreachable_endpoint_is_unavailable_quickly():
    store = make_s3(f"http://127.0.0.1:{free_port()}", max_attempts=2, connect_timeout=1, read_timeout=1)
    began = time.monotonic()
    for call in (
        store.ping,
        lambda: store.size("k"),
        lambda: store.write("k", [b"x"]),
        lambda: store.open("k"),
        lambda: list(store.iter_range("k")),
        lambda: list(store.list()),
        lambda: store.exists("k"),
    ):
        with pytest.raises(StorageUnavailable):
            call()
    assert time.monotonic() - began < 30


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject"
    )


@pytest.mark.parametrize(
    "code, status, expected",
    [
        ("NoSuchKey", 404, ObjectNotFound),
        ("404", 404, ObjectNotFound),
        ("SlowDown", 503, StorageUnavailable),
        ("InternalError", 500, StorageUnavailable),
        ("Whatever", 502, StorageUnavailable),
        ("EntityTooLarge", 400, StorageFull),
        ("QuotaExceeded", 403, StorageFull),
        ("AccessDenied", 403, StorageError),
    ],
)
def test_s3_error_codes_map_to_our_errors(code, status, expected):
    """Codes the test server cannot produce on demand (throttling, quotas): the mapping callers rely on."""
    error = _translate(_client_error(code, status), "'k'")
    assert type(error) is expected
    assert "testing" not in str(error)


def test_a_read_broken_mid_stream_resumes_where_it_stopped(s3_server):
    from .flaky_proxy import FlakyProxy

    direct = make_s3(s3_server)
    direct.ensure_ready()
    data = os.urandom(3_000_000)
    direct.write("resume/me", [data])
    proxy = FlakyProxy(s3_server, cut={1, 2}, cut_after=700_000)
    try:
        via_proxy = make_s3(proxy.url, bucket=direct.bucket)
        got = b"".join(via_proxy.iter_range("resume/me", 1000, 2_900_000, chunk_size=256 * 1024))
        assert got == data[1000:2_900_000]
        assert proxy.connections == 3  # two broken connections, each resumed once
    finally:
        proxy.close()


def test_a_read_that_keeps_breaking_gives_up_as_unavailable(s3_server):
    from .flaky_proxy import FlakyProxy

    direct = make_s3(s3_server)
    direct.ensure_ready()
    direct.write("broken", [os.urandom(2_000_000)])
    proxy = FlakyProxy(s3_server, cut=set(range(1, 100)), cut_after=300_000)
    try:
        via_proxy = make_s3(proxy.url, bucket=direct.bucket, max_attempts=1)
        with pytest.raises(StorageUnavailable):
            b"".join(via_proxy.iter_range("broken", chunk_size=64 * 1024))
    finally:
        proxy.close()


def test_a_resumed_read_refuses_an_object_that_changed(s3_server):
    """Resuming must not splice two versions of an object together."""
    direct = make_s3(s3_server)
    direct.ensure_ready()
    direct.write("changing", [b"a" * 1_000_000])
    _, etag = direct._get_range("changing", 0, None)
    direct.write("changing", [b"b" * 1_000_000])
    with pytest.raises(StorageError, match="changed"):
        direct._get_range("changing", 500_000, None, etag)


def test_ping_of_an_unreachable_endpoint_answers_fast():
    """Readiness probes hit ping() on every call: no retries, short timeouts."""
    store = make_s3(f"http://127.0.0.1:{free_port()}")  # default retries for real work
    began = time.monotonic()
    with pytest.raises(StorageUnavailable):
        store.ping()
    assert time.monotonic() - began < 5


def test_part_sizes_grow_so_very_large_uploads_fit_10000_parts(s3_server):
    from gdi_archive.storage.s3 import MAX_PARTS

    store = make_s3(s3_server)
    sizes = [store.part_size_for(n) for n in range(1, MAX_PARTS + 1)]
    assert sizes[0] == store.part_size == 16 * 1024 * 1024
    assert sum(sizes) > 500 * 1024**3  # well past the 200 GiB inbox limit
    assert all(5 * 1024**2 <= size <= 5 * 1024**3 for size in sizes)


def test_the_store_checks_signatures_and_presigned_urls(s3_server):
    """SeaweedFS, like real S3, refuses a wrong secret, a tampered or expired presigned URL and a
    Range other than the signed one, each with a 403 before any byte."""
    import requests

    store = make_s3(s3_server)
    store.ensure_ready()
    data = os.urandom(50_000)
    store.write("obj", [data])

    impostor = make_s3(s3_server, bucket=store.bucket, secret_key="not-the-secret")
    with pytest.raises(ClientError) as refused:
        impostor.client.get_object(Bucket=store.bucket, Key="obj")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(StorageUnavailable, match="denied"):
        impostor.ping()
    assert requests.get(f"{s3_server}/{store.bucket}/obj", timeout=10).status_code == 403  # anonymous

    url = store.presigned_url("obj", expires_in=60, start=100, end=200)
    answer = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert answer.status_code == 206 and answer.content == data[100:200]
    assert requests.get(url, headers={"Range": "bytes=0-49999"}, timeout=10).status_code == 403  # not the signed range
    assert requests.get(url, timeout=10).status_code == 403  # the signed Range left out
    tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")[:-1]
    assert requests.get(tampered, headers={"Range": "bytes=100-199"}, timeout=10).status_code == 403

    short = store.presigned_url("obj", expires_in=1)
    assert requests.get(short, timeout=10).content == data
    deadline = time.monotonic() + 10
    while (expired := requests.get(short, timeout=10)).status_code == 200:
        assert time.monotonic() < deadline, "a presigned URL outlived its expiry"
        time.sleep(0.2)
    assert expired.status_code == 403 and b"expired" in expired.content

"""Ranged reads from S3 on reused presigned URLs (gdi_archive/storage/s3_reads.py), against a real
SeaweedFS: the bytes, the errors (the same as botocore's get_object gave), a changed object, a
changed bucket or secret, and that the presigned URL, a credential, never reaches a log."""

import logging
import os
import traceback
import uuid

import pytest
from django.test import override_settings

from gdi_archive import storage
from gdi_archive.storage import ObjectNotFound, StorageError, StorageUnavailable

from ..conftest import free_port
from .conftest import make_s3

pytestmark = pytest.mark.s3

MiB = 1024 * 1024


@pytest.fixture
def filled(s3_server):
    store = make_s3(s3_server)
    store.ensure_ready()
    data = os.urandom(3 * MiB + 1234)
    store.write("obj", [data])
    return store, data


def test_ranged_reads_give_exactly_the_bytes_asked_for(filled):
    store, data = filled
    for start, end in [(0, 1), (100, 4196), (65536, 2 * 65536), (5, 5 + MiB), (17, 2 * MiB + 3), (0, len(data))]:
        assert b"".join(store.iter_range("obj", start, end, chunk_size=256 * 1024)) == data[start:end], (start, end)
    for _ in range(3):  # the same key again: the reused URL still reads the right bytes
        assert b"".join(store.iter_range("obj", 4096, 8192)) == data[4096:8192]
    assert b"".join(store.iter_range("obj", MiB)) == data[MiB:]  # open-ended
    assert b"".join(store.iter_range("obj", len(data) - 10, len(data) + 10**6)) == data[-10:]
    assert list(store.iter_range("obj", len(data), len(data) + 10)) == []  # past the end
    assert list(store.iter_range("obj", len(data) + 1)) == []
    odd = "a folder/with spaces+plus%percent/ünï©ode?&=#.c4gh"  # signed and sent percent-encoded
    store.write(odd, [data[:5000]])
    for _ in range(2):
        assert b"".join(store.iter_range(odd, 10, 4010)) == data[10:4010]


def test_a_store_that_may_retry_once_still_says_why_it_was_refused(filled):
    store, _ = filled
    impostor = make_s3(store.endpoint_url, bucket=store.bucket, secret_key="not-the-secret", max_attempts=1)
    with pytest.raises(StorageError, match="SignatureDoesNotMatch"):
        list(impostor.iter_range("obj", 0, 4096))


def test_a_missing_object_is_not_found_with_the_message_get_object_gave(filled):
    store, _ = filled
    with pytest.raises(ObjectNotFound) as botocore_said:
        store.open("missing")  # still botocore's get_object
    with pytest.raises(ObjectNotFound) as ranged_said:
        list(store.iter_range("missing", 0, 4096))
    assert str(ranged_said.value) == str(botocore_said.value) == "No object 'missing'."
    assert b"".join(store.iter_range("obj", 0, 10))  # a URL for this key is now reused...
    store.delete("obj")
    with pytest.raises(ObjectNotFound):  # ...and still says the object is gone
        list(store.iter_range("obj", 0, 10))


def test_a_wrong_secret_is_refused_with_the_message_get_object_gave(filled):
    store, _ = filled
    impostor = make_s3(store.endpoint_url, bucket=store.bucket, secret_key="not-the-secret")
    with pytest.raises(StorageError) as botocore_said:
        impostor.open("obj")
    with pytest.raises(StorageError) as ranged_said:
        list(impostor.iter_range("obj", 0, 4096))
    assert type(ranged_said.value) is type(botocore_said.value)
    assert str(ranged_said.value) == str(botocore_said.value)
    assert "SignatureDoesNotMatch" in str(ranged_said.value)


def test_a_read_resumed_after_the_object_changed_is_refused(s3_server):
    """The connection breaks mid-read; meanwhile the object was written again: the resumed GET
    carries the first answer's ETag (If-Match), so two versions are never spliced together."""
    from .flaky_proxy import FlakyProxy

    direct = make_s3(s3_server)
    direct.ensure_ready()
    direct.write("changing", [b"a" * 3 * MiB])
    proxy = FlakyProxy(s3_server, cut={1}, cut_after=700_000)
    try:
        via_proxy = make_s3(proxy.url, bucket=direct.bucket)
        chunks = via_proxy.iter_range("changing", 0, 3 * MiB, chunk_size=64 * 1024)
        assert next(chunks) == b"a" * 64 * 1024
        direct.write("changing", [b"b" * 3 * MiB])
        with pytest.raises(StorageError, match="changed while it was being read"):
            for chunk in chunks:
                assert set(chunk) == {ord("a")}
        assert proxy.connections == 2
    finally:
        proxy.close()


def test_a_reused_url_never_reads_another_bucket_or_outlives_a_changed_secret(s3_server):
    """The archive store is chosen by settings at call time; a URL presigned for one bucket and
    secret must not answer for another bucket, nor keep working once the secret is wrong."""
    first, second = (make_s3(s3_server) for _ in range(2))
    for store, content in ((first, b"first bucket"), (second, b"second bucket")):
        store.ensure_ready()
        store.write("same/key", [content])
    s3 = {"S3_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "testing"}
    with override_settings(STORAGE_URL=f"s3://{first.bucket}", AWS_SECRET_ACCESS_KEY="testing", **s3):
        for _ in range(2):
            assert b"".join(storage.archive_store().iter_range("same/key", 0, 12)) == b"first bucket"
    with override_settings(STORAGE_URL=f"s3://{second.bucket}", AWS_SECRET_ACCESS_KEY="testing", **s3):
        assert b"".join(storage.archive_store().iter_range("same/key", 0, 13)) == b"second bucket"
    with override_settings(STORAGE_URL=f"s3://{first.bucket}", AWS_SECRET_ACCESS_KEY="rotated-away", **s3):
        with pytest.raises(StorageError, match="SignatureDoesNotMatch"):
            list(storage.archive_store().iter_range("same/key", 0, 12))
    # Two stores side by side in one process, the same key: each reads its own bucket.
    assert b"".join(first.iter_range("same/key", 0, 12)) == b"first bucket"
    assert b"".join(second.iter_range("same/key", 0, 13)) == b"second bucket"
    assert b"".join(first.iter_range("same/key", 0, 12)) == b"first bucket"


def _failing_reads(s3_server, bucket):
    from .flaky_proxy import FlakyProxy

    unreachable = make_s3(f"http://127.0.0.1:{free_port()}", bucket=bucket, max_attempts=2, connect_timeout=1)
    yield StorageUnavailable, lambda: list(unreachable.iter_range("obj", 0, 4096))
    store = make_s3(s3_server, bucket=bucket)
    yield ObjectNotFound, lambda: list(store.iter_range(f"missing-{uuid.uuid4().hex}", 0, 4096))
    impostor = make_s3(s3_server, bucket=bucket, secret_key="not-the-secret")
    yield StorageError, lambda: list(impostor.iter_range("obj", 0, 4096))
    no_bucket = make_s3(s3_server, max_attempts=1)
    yield StorageUnavailable, lambda: list(no_bucket.iter_range("obj", 0, 4096))
    proxy = FlakyProxy(s3_server, cut=set(range(1, 100)), cut_after=300_000)
    try:
        broken = make_s3(proxy.url, bucket=bucket, max_attempts=1)
        yield StorageUnavailable, lambda: b"".join(broken.iter_range("obj", chunk_size=64 * 1024))
        yield StorageUnavailable, lambda: b"".join(broken.iter_range("obj", 0, 600_000))  # read whole in the request
    finally:
        proxy.close()


def test_no_presigned_url_reaches_a_log_or_a_traceback_of_a_failing_read(filled, caplog):
    """Even at DEBUG (botocore's own loggers stay at INFO in settings.LOGGING: at DEBUG it logs
    each signature), with the failure logged with its traceback as a caller would."""
    store, _ = filled
    caplog.set_level(logging.DEBUG)
    caller = logging.getLogger("tests.caller")
    tracebacks = []
    seen = 0
    for expected, read in _failing_reads(store.endpoint_url, store.bucket):
        try:
            read()
        except expected as exc:
            caller.exception("the read failed")
            tracebacks.append("".join(traceback.format_exception(exc)))
        else:
            pytest.fail(f"no {expected.__name__}")
        seen += 1
    assert seen == 6
    logged = caplog.text + "".join(
        logging.Formatter().formatException(r.exc_info) for r in caplog.records if r.exc_info
    )
    assert logged.count("the read failed") >= 6 and "Traceback" in logged
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # its request lines were logged...
    for text in (logged, *tracebacks):
        assert "X-Amz-Signature" not in text and "X-Amz-Credential" not in text  # ...without the query


def test_a_reused_url_the_server_refuses_is_signed_again(filled, monkeypatch):
    """Credentials that rotated, or a URL past its expiry: a 403 on a reused URL is retried once
    on a fresh signature (here the URL expires after a second but would be reused for a minute)."""
    import time

    from gdi_archive.storage import s3_reads

    store, data = filled
    monkeypatch.setattr(s3_reads, "PRESIGN_EXPIRES", 1)
    monkeypatch.setattr(s3_reads, "PRESIGN_REUSE", 60)
    assert b"".join(store.iter_range("obj", 0, 100)) == data[:100]
    time.sleep(2.5)
    assert b"".join(store.iter_range("obj", 100, 200)) == data[100:200]

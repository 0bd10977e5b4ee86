"""Ingest with the inbox and archive in S3 (SeaweedFS, tests/seaweedfs.py), including a storage outage."""

import hashlib
import time

import pytest

from gdi_archive.catalogue.models import File, FileEvent
from gdi_archive.storage import archive_store, inbox_store
from tests.conftest import client_for

from .conftest import archive_passphrase, archive_secret_key_file, decrypt, encrypt, put, random_file, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.s3]


def _retry_delay(monkeypatch, seconds: int):
    from django.test import override_settings

    monkeypatch.setenv("INGEST_RETRY_DELAY", str(seconds))
    with override_settings(INGEST_RETRY_DELAY=seconds):
        yield


@pytest.fixture
def quick_retries(monkeypatch):
    yield from _retry_delay(monkeypatch, 1)


@pytest.fixture
def instant_retries(monkeypatch):
    yield from _retry_delay(monkeypatch, 0)


def test_s3_round_trip(s3_env, celery_worker_process, submitter, archive_pub, tmp_path):
    inbox_store().ensure_ready()
    archive_store().ensure_ready()
    plain = random_file(tmp_path / "reads.cram", 20 * 1024 * 1024 + 77)  # several multipart parts
    client = client_for(submitter)
    assert put(client, "reads.cram.c4gh", encrypt(plain, archive_pub).read_bytes()).status_code == 201
    done = wait_until(client, "reads.cram.c4gh", timeout=120)
    data = plain.read_bytes()
    assert done["status"] == "ready", done
    assert done["sha256"] == hashlib.sha256(data).hexdigest()
    file = File.objects.get(accession=done["accession"])
    assert file.format == "CRAM"
    assert list(archive_store().list()) == [file.location]
    assert list(inbox_store().list()) == []
    body = b"".join(archive_store().iter_range(file.location))
    assert hashlib.sha256(body).hexdigest() == file.stored_sha256
    assert decrypt(bytes(file.header) + body, archive_secret_key_file(), archive_passphrase()) == data


def _remove_archive_bucket(s3_env) -> None:
    """An outage the store reports as StorageUnavailable: the archive bucket is gone (workers
    create missing buckets only when they start)."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_env["S3_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    bucket = s3_env["STORAGE_URL"].removeprefix("s3://")
    if bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.delete_bucket(Bucket=bucket)


def test_storage_outage_is_retried_then_succeeds(
    s3_env, quick_retries, celery_worker_process, submitter, archive_pub, tmp_path
):
    """The archive bucket is missing at first (StorageUnavailable); once it exists the retry finishes."""
    inbox_store().ensure_ready()
    _remove_archive_bucket(s3_env)
    plain = random_file(tmp_path / "v.vcf.gz", 100_000)
    client = client_for(submitter)
    assert put(client, "v.vcf.gz.c4gh", encrypt(plain, archive_pub).read_bytes()).status_code == 201
    deadline = time.monotonic() + 30
    while not FileEvent.objects.filter(
        file__inbox_name="v.vcf.gz.c4gh", detail__startswith="storage unavailable"
    ).exists():
        assert time.monotonic() < deadline, "the outage was not noticed"
        time.sleep(0.05)
    archive_store().ensure_ready()
    done = wait_until(client, "v.vcf.gz.c4gh", timeout=60)
    assert done["status"] == "ready", done
    assert done["sha256"] == hashlib.sha256(plain.read_bytes()).hexdigest()


def test_storage_that_stays_down_fails_the_file_with_a_reason(
    s3_env, instant_retries, celery_worker_process, submitter, archive_pub, tmp_path
):
    inbox_store().ensure_ready()
    _remove_archive_bucket(s3_env)  # and it never comes back
    client = client_for(submitter)
    put(client, "v.bam.c4gh", encrypt(random_file(tmp_path / "v.bam", 1000), archive_pub).read_bytes())
    done = wait_until(client, "v.bam.c4gh", timeout=120)
    assert done["status"] == "error"
    assert done["error"].startswith("Storage stayed unavailable after 6 tries")
    file = File.objects.get(inbox_name="v.bam.c4gh")
    assert FileEvent.objects.filter(file=file, detail__startswith="storage unavailable").count() == 6
    assert inbox_store().exists(file.inbox_location)  # kept, so an operator can restart it

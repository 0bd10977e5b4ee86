"""A worker killed mid-file: nothing half-done, and a new worker finishes the file from the start."""

import hashlib
import time

import pytest

from gdi_archive.catalogue.models import File, FileEvent
from gdi_archive.ingest.models import IngestJob
from gdi_archive.storage import archive_store
from tests.conftest import WorkerProcess, client_for

from .conftest import archive_passphrase, archive_secret_key_file, decrypt, encrypt, put, random_file, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def test_worker_killed_mid_ingest_then_new_worker_finishes(celery_worker_process, submitter, archive_pub, tmp_path):
    plain = random_file(tmp_path / "big.bam", 64 * 1024 * 1024)
    encrypted = encrypt(plain, archive_pub)
    client = client_for(submitter)
    data = encrypted.read_bytes()
    # as one part of a resumable upload, which is not verified on receipt: the run does the whole
    # pass (a whole-file PUT is verified as it arrives and its run only takes the staged body)
    response = put(client, "big.bam.c4gh", data, HTTP_CONTENT_RANGE=f"bytes 0-{len(data) - 1}/{len(data)}")
    assert response.status_code in (201, 202), response.content

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = File.objects.filter(inbox_name="big.bam.c4gh").values("status", "bytes_done").get()
        if row["bytes_done"] > 0:
            break
        time.sleep(0.005)
    celery_worker_process.kill()
    killed = File.objects.get(inbox_name="big.bam.c4gh")
    assert killed.status in ("verifying", "archiving"), "the file finished before the worker could be killed"
    assert 0 < killed.bytes_done < killed.bytes_total
    assert killed.accession is None and killed.location == ""
    assert list(archive_store().list()) == []  # a half-written object is never visible
    first_attempt = IngestJob.objects.get(file=killed).attempt

    fresh = WorkerProcess(tmp_path / "worker2.log")
    fresh.start()
    try:
        done = wait_until(client, "big.bam.c4gh", timeout=120)
    finally:
        fresh.stop()
    assert done["status"] == "ready", done
    data = plain.read_bytes()
    assert done["sha256"] == hashlib.sha256(data).hexdigest()
    file = File.objects.get(pk=killed.pk)
    assert file.md5 == hashlib.md5(data).hexdigest()
    assert list(archive_store().list()) == [file.location]  # exactly one archive object
    with archive_store().open(file.location) as body:
        assert decrypt(bytes(file.header) + body.read(), archive_secret_key_file(), archive_passphrase()) == data
    assert IngestJob.objects.get(file=file).attempt > first_attempt
    details = list(FileEvent.objects.filter(file=file).values_list("detail", flat=True))
    assert any("stopped; starting again" in d for d in details), details


@pytest.mark.django_db
def test_stale_run_cannot_overwrite_a_newer_one(submitter, archive_pub, tmp_path, django_capture_on_commit_callbacks):
    """A run presumed dead and replaced is fenced off: none of its writes land."""
    from gdi_archive.ingest.pipeline import Verified
    from gdi_archive.ingest.runs import (
        Superseded,
        claim_ingest,
        fail_ingest,
        finish_ingest,
        recover_interrupted_ingests,
        run_ingest,
    )

    plain = random_file(tmp_path / "s.bam", 100_000)
    client = client_for(submitter)
    with django_capture_on_commit_callbacks(execute=False):
        put(client, "s.bam.c4gh", encrypt(plain, archive_pub).read_bytes())
    file = File.objects.get()
    _, stale_attempt, _ = claim_ingest(file_id=file.pk, worker="w1@host")
    assert recover_interrupted_ingests(dead_worker="w1@host") == [file.pk]
    fresh = run_ingest(file_id=file.pk, worker="w2@host")
    assert fresh.status == "ready"
    with pytest.raises(Superseded):
        finish_ingest(
            file_id=file.pk,
            attempt=stale_attempt,
            location="files/bogus",
            archive_key_id="0" * 64,
            verified=Verified(b"x", 0, 1, 1, "0" * 64, "0" * 32, "0" * 64),
        )
    assert fail_ingest(file_id=file.pk, attempt=stale_attempt, reason="stale") is None
    after = File.objects.get(pk=file.pk)
    assert (after.status, after.error, after.location) == ("ready", "", fresh.location)
    assert after.sha256 == hashlib.sha256(plain.read_bytes()).hexdigest()


@pytest.mark.django_db
def test_periodic_recovery_restarts_runs_with_a_stale_heartbeat(
    submitter, archive_pub, tmp_path, django_capture_on_commit_callbacks
):
    """The beat task finds a run whose worker vanished (no heartbeat for too long) and finishes the file."""
    from datetime import timedelta

    from django.utils import timezone

    from gdi_archive.ingest.runs import claim_ingest
    from gdi_archive.ingest.tasks import recover_interrupted_ingests

    plain = random_file(tmp_path / "r.bam", 150_000)
    with django_capture_on_commit_callbacks(execute=False):
        put(client_for(submitter), "r.bam.c4gh", encrypt(plain, archive_pub).read_bytes())
    file = File.objects.get()
    claim_ingest(file_id=file.pk, worker="gone@elsewhere")  # a run that will never report again
    assert recover_interrupted_ingests.delay().get() == []  # fresh heartbeat: left alone
    IngestJob.objects.filter(file=file).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert recover_interrupted_ingests.delay().get() == [file.pk]  # tasks run in-process in this test
    file.refresh_from_db()
    assert file.status == "ready"
    assert file.sha256 == hashlib.sha256(plain.read_bytes()).hexdigest()

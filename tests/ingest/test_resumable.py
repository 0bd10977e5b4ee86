"""Resumable uploads: PUT /api/inbox/{name} in parts with Content-Range, and GET for the offset."""

import hashlib
import socket
from urllib.parse import urlparse

import pytest
from django.test import override_settings

from gdi_archive.audit.models import AuditEvent
from gdi_archive.catalogue.models import File
from gdi_archive.ingest import resumable
from gdi_archive.storage import archive_store, inbox_store
from tests.conftest import client_for

from .conftest import archive_passphrase, archive_secret_key_file, decrypt, encrypt, put, random_file, wait_until

PART = 64 * 1024


@pytest.fixture
def source(tmp_path, archive_pub):
    plain = random_file(tmp_path / "sample.bam", 3 * 65536 + 4321)
    return plain.read_bytes(), encrypt(plain, archive_pub).read_bytes()


def put_part(client, name: str, data: bytes, start: int, total: int, **headers):
    end = start + len(data) - 1
    return put(client, name, data, HTTP_CONTENT_RANGE=f"bytes {start}-{end}/{total}", **headers)


def offset(client, name: str):
    response = client.get(f"/api/inbox/{name}")
    return response.status_code, response


def _partial_keys() -> list[str]:
    return list(inbox_store().list("partial/"))


@pytest.mark.worker
def test_parts_in_order_make_a_ready_file_that_decrypts(celery_worker_process, submitter, source):
    plain, encrypted = source
    client = client_for(submitter)
    total = len(encrypted)
    start = 0
    while start + PART < total:
        response = put_part(client, "sample.bam.c4gh", encrypted[start : start + PART], start, total)
        assert response.status_code == 202, response.content
        assert response.json() == {
            "name": "sample.bam.c4gh",
            "status": "partial",
            "bytes_received": start + PART,
            "bytes_total": total,
        }
        assert response["Upload-Offset"] == str(start + PART)
        start += PART
        assert not File.objects.exists()  # nothing partial is registered, so nothing partial is ingested
        status, head = offset(client, "sample.bam.c4gh")
        assert status == 200 and head["Upload-Offset"] == str(start) and head["Upload-Length"] == str(total)
    assert client.head("/api/inbox/sample.bam.c4gh")["Upload-Offset"] == str(start)
    last = put_part(
        client,
        "sample.bam.c4gh",
        encrypted[start:],
        start,
        total,
        HTTP_X_CHECKSUM_SHA256=hashlib.sha256(plain).hexdigest(),
    )
    assert last.status_code == 201, last.content
    assert last.json()["status"] == "uploaded" and last.json()["bytes_total"] == total
    assert _partial_keys() == []  # the parts are gone once assembled
    assert offset(client, "sample.bam.c4gh")[0] == 404

    done = wait_until(client, "sample.bam.c4gh")
    assert done["status"] == "ready", done
    assert done["sha256"] == hashlib.sha256(plain).hexdigest()
    file = File.objects.get(accession=done["accession"])
    with archive_store().open(file.location) as body:
        assert decrypt(bytes(file.header) + body.read(), archive_secret_key_file(), archive_passphrase()) == plain
    assert AuditEvent.objects.filter(action="ingest.upload", target_id=str(file.pk)).count() == 1


@pytest.mark.django_db
def test_a_part_that_does_not_start_at_the_offset_is_409_with_the_offset(submitter, source):
    _, encrypted = source
    client = client_for(submitter)
    total = len(encrypted)
    assert put_part(client, "s.bam.c4gh", encrypted[:PART], 0, total).status_code == 202
    for start in (2 * PART, 0, PART // 2):  # skipping ahead, starting again, overlapping
        response = put_part(client, "s.bam.c4gh", encrypted[start : start + PART], start, total)
        assert response.status_code == 409, response.content
        assert response.json()["error"] == "UploadOffsetMismatch"
        assert response.json()["bytes_received"] == PART and response["Upload-Offset"] == str(PART)
    first = put_part(client, "t.bam.c4gh", encrypted[PART : 2 * PART], PART, total)  # nothing received yet
    assert first.status_code == 409 and first["Upload-Offset"] == "0"
    assert offset(client, "s.bam.c4gh")[1]["Upload-Offset"] == str(PART)
    assert not File.objects.exists()


def _send_half_and_hang_up(url: str, token_headers: dict, path: str, data: bytes, start: int, total: int) -> bytes:
    """A part whose connection breaks half-way: the headers promise len(data) bytes, half come."""
    parsed = urlparse(url)
    head = [
        f"PUT {path} HTTP/1.1",
        f"Host: {parsed.netloc}",
        f"Content-Length: {len(data)}",
        f"Content-Range: bytes {start}-{start + len(data) - 1}/{total}",
        "Content-Type: application/octet-stream",
    ]
    head += [f"{key}: {value}" for key, value in token_headers.items()]
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data[: len(data) // 2])
        sock.shutdown(socket.SHUT_WR)
        try:
            return sock.recv(4096)
        except OSError:
            return b""


@pytest.mark.worker
def test_resume_after_a_part_broke_half_way(celery_worker_process, live_server, submitter, source):
    plain, encrypted = source
    total = len(encrypted)
    client = client_for(submitter)
    token = client.post("/api/tokens", {}, format="json").json()["token"]
    assert put_part(client, "r.bam.c4gh", encrypted[:PART], 0, total).status_code == 202
    answer = _send_half_and_hang_up(
        live_server.url,
        {"Authorization": f"Bearer {token}"},
        "/api/inbox/r.bam.c4gh",
        encrypted[PART : 2 * PART],
        PART,
        total,
    )
    assert answer.split(b"\r\n")[0].split()[1] in (b"400", b"408"), answer[:300]
    status, response = offset(client, "r.bam.c4gh")
    assert status == 200 and response["Upload-Offset"] == str(PART)  # the broken part was not kept
    assert len(_partial_keys()) == 1
    start = PART
    while start < total:
        chunk = encrypted[start : start + PART]
        response = put_part(client, "r.bam.c4gh", chunk, start, total)
        assert response.status_code in (201, 202), response.content
        start += len(chunk)
    assert response.status_code == 201
    done = wait_until(client, "r.bam.c4gh")
    assert done["status"] == "ready" and done["sha256"] == hashlib.sha256(plain).hexdigest()


@pytest.mark.django_db
def test_a_total_over_the_limit_is_413_before_anything_is_kept(submitter, source):
    _, encrypted = source
    with override_settings(INBOX_MAX_BYTES=len(encrypted) - 1):
        response = put_part(client_for(submitter), "big.bam.c4gh", encrypted[:PART], 0, len(encrypted))
    assert response.status_code == 413 and response.json()["error"] == "PayloadTooLarge"
    assert _partial_keys() == [] and not File.objects.exists()


@pytest.mark.django_db
def test_a_part_whose_length_does_not_match_its_range_is_400_and_not_kept(submitter, source):
    _, encrypted = source
    client = client_for(submitter)
    total = len(encrypted)
    response = put(client, "w.bam.c4gh", encrypted[: PART - 10], HTTP_CONTENT_RANGE=f"bytes 0-{PART - 1}/{total}")
    assert response.status_code == 400 and response.json()["error"] == "InvalidInput"
    for bad in ("bytes 5-1/10", "bytes 0-10/10", "rows 0-1/2", "bytes */100"):
        assert put(client, "w.bam.c4gh", b"xx", HTTP_CONTENT_RANGE=bad).status_code == 400
    assert _partial_keys() == [] and offset(client, "w.bam.c4gh")[0] == 404


@pytest.mark.django_db
def test_another_user_cannot_see_or_continue_my_partial_upload(submitter, steward, applicant, source):
    _, encrypted = source
    total = len(encrypted)
    assert put_part(client_for(submitter), "mine.bam.c4gh", encrypted[:PART], 0, total).status_code == 202
    other = client_for(steward)
    assert offset(other, "mine.bam.c4gh")[0] == 404
    assert other.head("/api/inbox/mine.bam.c4gh").status_code == 404
    # The steward's part at my offset is the start of *their* upload: refused, it does not continue mine.
    refused = put_part(other, "mine.bam.c4gh", encrypted[PART : 2 * PART], PART, total)
    assert refused.status_code == 409 and refused["Upload-Offset"] == "0"
    assert offset(client_for(applicant), "mine.bam.c4gh")[0] == 403  # not a submitter at all
    assert client_for(applicant).get("/api/inbox/mine.bam.c4gh").json()["error"] == "Forbidden"
    assert offset(client_for(submitter), "mine.bam.c4gh")[1]["Upload-Offset"] == str(PART)
    from rest_framework.test import APIClient

    assert APIClient().get("/api/inbox/mine.bam.c4gh").status_code == 401


@pytest.mark.django_db
def test_a_whole_file_put_still_works_and_replaces_an_unfinished_upload(
    submitter, source, django_capture_on_commit_callbacks
):
    _, encrypted = source
    client = client_for(submitter)
    assert put_part(client, "p.bam.c4gh", encrypted[:PART], 0, len(encrypted)).status_code == 202
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = put(client, "p.bam.c4gh", encrypted)
    assert response.status_code == 201 and response.json()["status"] == "uploaded"
    assert any(callback.__qualname__.startswith("register_upload") for callback in callbacks)  # ingest queued
    assert _partial_keys() == [] and offset(client, "p.bam.c4gh")[0] == 404


@pytest.mark.django_db
def test_unfinished_uploads_idle_for_a_day_are_removed(submitter, source):
    import time

    from gdi_archive.ingest.tasks import remove_abandoned_uploads

    _, encrypted = source
    client = client_for(submitter)
    assert put_part(client, "old.bam.c4gh", encrypted[:PART], 0, len(encrypted)).status_code == 202
    assert remove_abandoned_uploads() == 0
    assert resumable.remove_abandoned(now=time.time() + 25 * 3600) == 1
    assert _partial_keys() == [] and offset(client, "old.bam.c4gh")[0] == 404


@pytest.mark.worker
@pytest.mark.s3
def test_parts_in_s3_are_assembled_by_a_streaming_write(
    s3_env, celery_worker_process, submitter, archive_pub, tmp_path
):
    inbox_store().ensure_ready()
    archive_store().ensure_ready()
    plain = random_file(tmp_path / "reads.cram", 11 * 1024 * 1024 + 77)
    encrypted = encrypt(plain, archive_pub).read_bytes()
    client = client_for(submitter)
    part, start, total = 4 * 1024 * 1024, 0, len(encrypted)
    while start < total:
        response = put_part(client, "reads.cram.c4gh", encrypted[start : start + part], start, total)
        assert response.status_code in (201, 202), response.content
        start += part
    assert response.status_code == 201
    assert _partial_keys() == []
    done = wait_until(client, "reads.cram.c4gh", timeout=120)
    assert done["status"] == "ready" and done["sha256"] == hashlib.sha256(plain.read_bytes()).hexdigest()

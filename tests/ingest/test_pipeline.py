"""The ingest pipeline through a real Celery worker: round trip and every way a file can fail."""

import hashlib
import subprocess

import pytest

from gdi_archive.catalogue.models import File, FileEvent
from gdi_archive.storage import archive_store, inbox_store
from tests.conftest import client_for

from .conftest import (
    CRYPT4GH_KEYGEN,
    archive_passphrase,
    archive_secret_key_file,
    decrypt,
    encrypt,
    put,
    random_file,
    wait_until,
)

pytestmark = [pytest.mark.worker]


def _stored_stream(file: File) -> bytes:
    """The stored header followed by the stored body: a complete Crypt4GH file for the archive key."""
    with archive_store().open(file.location) as body:
        return bytes(file.header) + body.read()


def _archive_keys() -> list[str]:
    return list(archive_store().list("files/"))


def test_round_trip(celery_worker_process, submitter, archive_pub, tmp_path):
    plain = random_file(tmp_path / "sample.bam", 3 * 65536 + 1234)
    encrypted = encrypt(plain, archive_pub)
    client = client_for(submitter)
    response = put(client, "sample.bam.c4gh", encrypted.read_bytes())
    assert response.status_code == 201, response.content

    done = wait_until(client, "sample.bam.c4gh")
    data = plain.read_bytes()
    assert done["status"] == "ready", done
    assert done["sha256"] == hashlib.sha256(data).hexdigest()
    assert done["bytes_done"] == done["bytes_total"] == encrypted.stat().st_size
    assert done["accession"].startswith("GDIF") and done["error"] == ""

    file = File.objects.get(accession=done["accession"])
    assert file.md5 == hashlib.md5(data).hexdigest()
    assert file.plaintext_size == len(data)
    body = archive_store().open(file.location).read()
    assert file.stored_size == len(body) == encrypted.stat().st_size - len(bytes(file.header))
    assert file.stored_sha256 == hashlib.sha256(body).hexdigest()
    assert decrypt(_stored_stream(file), archive_secret_key_file(), archive_passphrase()) == data
    assert list(FileEvent.objects.filter(file=file).values_list("status", flat=True)) == [
        "uploaded",
        "verifying",
        "archiving",
        "ready",
    ]
    assert not inbox_store().exists(File.objects.get(pk=file.pk).inbox_location or "x")
    assert list(inbox_store().list(f"{submitter.pk}/")) == []
    assert _archive_keys() == [file.location]
    from gdi_archive.audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="ingest.ready", target_id=file.accession).exists()


def _fails(client, name: str, data: bytes, **headers) -> dict:
    assert put(client, name, data, **headers).status_code == 201
    result = wait_until(client, name)
    assert result["status"] == "error", result
    assert result["accession"] is None and result["sha256"] is None
    file = File.objects.get(inbox_name=name)
    assert file.location == "" and file.header is None
    assert _archive_keys() == []  # never reaches the archive
    from gdi_archive.audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="ingest.failed", target_id=str(file.pk)).exists()
    return result


def test_not_crypt4gh(celery_worker_process, submitter, tmp_path):
    result = _fails(client_for(submitter), "plain.bam.c4gh", b"BAM\x01" + bytes(5000))
    assert "not a Crypt4GH file" in result["error"]


def test_encrypted_for_another_key(celery_worker_process, submitter, tmp_path):
    subprocess.run(
        [CRYPT4GH_KEYGEN, "--sk", str(tmp_path / "other.sec"), "--pk", str(tmp_path / "other.pub"), "--nocrypt", "-f"],
        check=True,
        capture_output=True,
    )
    plain = random_file(tmp_path / "x.bam", 70000)
    result = _fails(client_for(submitter), "x.bam.c4gh", encrypt(plain, tmp_path / "other.pub").read_bytes())
    assert "not encrypted for any archive key" in result["error"]


def test_truncated(celery_worker_process, submitter, archive_pub, tmp_path):
    data = encrypt(random_file(tmp_path / "t.bam", 200_000), archive_pub).read_bytes()
    result = _fails(client_for(submitter), "t.bam.c4gh", data[:-1000])
    assert "truncated" in result["error"]


def test_truncated_inside_the_header(celery_worker_process, submitter, archive_pub, tmp_path):
    data = encrypt(random_file(tmp_path / "t.bam", 1000), archive_pub).read_bytes()
    result = _fails(client_for(submitter), "t.bam.c4gh", data[:60])
    assert "truncated" in result["error"]


def test_tampered_segment_is_named(celery_worker_process, submitter, archive_pub, tmp_path):
    data = bytearray(encrypt(random_file(tmp_path / "s.bam", 5 * 65536), archive_pub).read_bytes())
    header_length = len(data) - 5 * 65564
    data[header_length + 2 * 65564 + 500] ^= 0x01  # one bit inside segment 2
    result = _fails(client_for(submitter), "s.bam.c4gh", bytes(data))
    assert result["error"] == "segment 2 fails authentication"


def test_checksum_mismatch(celery_worker_process, submitter, archive_pub, tmp_path):
    plain = random_file(tmp_path / "c.bam", 100_000)
    wrong = hashlib.sha256(b"something else").hexdigest()
    result = _fails(
        client_for(submitter), "c.bam.c4gh", encrypt(plain, archive_pub).read_bytes(), HTTP_X_CHECKSUM_SHA256=wrong
    )
    assert (
        result["error"]
        == f"checksum mismatch: expected sha256 {wrong}, got {hashlib.sha256(plain.read_bytes()).hexdigest()}"
    )


def test_md5_mismatch(celery_worker_process, submitter, archive_pub, tmp_path):
    plain = random_file(tmp_path / "c.bam", 1000)
    result = _fails(
        client_for(submitter), "c.bam.c4gh", encrypt(plain, archive_pub).read_bytes(), HTTP_X_CHECKSUM_MD5="0" * 32
    )
    assert result["error"].startswith("checksum mismatch: expected md5 " + "0" * 32)


def test_matching_checksums_are_accepted(celery_worker_process, submitter, archive_pub, tmp_path):
    plain = random_file(tmp_path / "ok.vcf.gz", 90_000)
    data = plain.read_bytes()
    client = client_for(submitter)
    put(
        client,
        "ok.vcf.gz.c4gh",
        encrypt(plain, archive_pub).read_bytes(),
        HTTP_X_CHECKSUM_SHA256=hashlib.sha256(data).hexdigest().upper(),
        HTTP_X_CHECKSUM_MD5=hashlib.md5(data).hexdigest(),
    )
    assert wait_until(client, "ok.vcf.gz.c4gh")["status"] == "ready"


@pytest.mark.parametrize("index_first", [False, True])
def test_index_is_linked_to_its_data_file(celery_worker_process, submitter, archive_pub, tmp_path, index_first):
    client = client_for(submitter)
    bam = encrypt(random_file(tmp_path / "reads.bam", 80_000), archive_pub).read_bytes()
    bai = encrypt(random_file(tmp_path / "reads.bam.bai", 3_000), archive_pub).read_bytes()
    uploads = [("reads.bam.bai.c4gh", bai), ("reads.bam.c4gh", bam)]
    for name, data in uploads if index_first else reversed(uploads):
        assert put(client, name, data).status_code == 201
        wait_until(client, name)
    index, data_file = wait_until(client, "reads.bam.bai.c4gh"), wait_until(client, "reads.bam.c4gh")
    assert index["status"] == data_file["status"] == "ready"
    assert index["index_of"] == "reads.bam"
    assert index["accession"] is None and data_file["accession"]
    assert data_file["index_of"] is None
    data = File.objects.get(accession=data_file["accession"])
    assert data.has_index
    assert data.indexes.get().format == "BAI"

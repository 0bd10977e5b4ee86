"""Less common but valid (or subtly invalid) uploads, ingested in-process through the same task."""

import hashlib
import subprocess

import pytest

from gdi_archive.catalogue.models import File
from gdi_archive.crypt4gh.header import build_header
from gdi_archive.crypt4gh.keys import parse_public_key
from gdi_archive.crypt4gh.segments import encrypt_segments
from gdi_archive.ingest.models import IngestJob
from gdi_archive.storage import archive_store
from tests.conftest import client_for

from .conftest import (
    CRYPT4GH,
    CRYPT4GH_KEYGEN,
    archive_passphrase,
    archive_secret_key_file,
    decrypt,
    encrypt,
    put,
    random_file,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload(submitter, django_capture_on_commit_callbacks):
    """PUT a file and run its ingest task in this process; returns the file row."""

    def _upload(name: str, data: bytes, **headers) -> File:
        with django_capture_on_commit_callbacks(execute=True):
            response = put(client_for(submitter), name, data, **headers)
        assert response.status_code in (201, 202), response.content
        return File.objects.get(submitter=submitter, inbox_name=name)

    return _upload


def test_several_recipients_including_the_submitter(upload, archive_pub, tmp_path):
    subprocess.run(
        [CRYPT4GH_KEYGEN, "--sk", str(tmp_path / "me.sec"), "--pk", str(tmp_path / "me.pub"), "--nocrypt", "-f"],
        check=True,
        capture_output=True,
    )
    plain = random_file(tmp_path / "m.bam", 100_000)
    out = tmp_path / "m.bam.c4gh"
    with open(plain, "rb") as src, open(out, "wb") as dst:
        subprocess.run(
            [CRYPT4GH, "encrypt", "--recipient_pk", str(tmp_path / "me.pub"), "--recipient_pk", str(archive_pub)],
            stdin=src,
            stdout=dst,
            check=True,
        )
    file = upload("m.bam.c4gh", out.read_bytes())
    assert file.status == "ready", file.error
    body = archive_store().open(file.location).read()
    assert decrypt(bytes(file.header) + body, archive_secret_key_file(), archive_passphrase()) == plain.read_bytes()


def test_empty_plaintext(upload, archive_pub, tmp_path):
    empty = tmp_path / "empty.vcf"
    empty.write_bytes(b"")
    file = upload("empty.vcf.c4gh", encrypt(empty, archive_pub).read_bytes())
    assert file.status == "ready", file.error
    assert (file.plaintext_size, file.stored_size) == (0, 0)
    assert file.sha256 == hashlib.sha256(b"").hexdigest()


def test_a_header_with_an_edit_list_is_refused(upload, archive_pub):
    key = bytes(32)
    header = build_header([key], [parse_public_key(archive_pub.read_text())], edit_list=[10, 100])
    body = b"".join(encrypt_segments([b"x" * 1000], key))
    file = upload("e.bam.c4gh", header + body)
    assert file.status == "error"
    assert "edit list" in file.error
    assert list(archive_store().list()) == []


def test_garbage_after_a_valid_header_fails_at_segment_0(upload, archive_pub, tmp_path):
    data = encrypt(random_file(tmp_path / "g.bam", 10), archive_pub).read_bytes()
    header_length = len(data) - (10 + 28)
    file = upload("g.bam.c4gh", data[:header_length] + bytes(65564 * 2))
    assert file.status == "error"
    assert file.error == "segment 0 fails authentication"


def test_reupload_while_ingesting_fences_off_the_old_run(
    upload, submitter, archive_pub, tmp_path, django_capture_on_commit_callbacks
):
    """A replacement arriving mid-ingest wins; the old run can no longer write its result."""
    from gdi_archive.ingest.pipeline import Verified
    from gdi_archive.ingest.runs import Superseded, claim_ingest, finish_ingest

    with django_capture_on_commit_callbacks(execute=False):
        put(
            client_for(submitter),
            "w.bam.c4gh",
            encrypt(random_file(tmp_path / "old.bam", 5000), archive_pub).read_bytes(),
        )
    first = File.objects.get()
    _, old_attempt, _ = claim_ingest(file_id=first.pk, worker="w1")
    new_plain = random_file(tmp_path / "new.bam", 7000)
    file = upload("w.bam.c4gh", encrypt(new_plain, archive_pub).read_bytes())
    assert file.pk == first.pk and file.status == "ready"
    assert file.sha256 == hashlib.sha256(new_plain.read_bytes()).hexdigest()
    assert IngestJob.objects.get(file=file).attempt > old_attempt
    with pytest.raises(Superseded):
        finish_ingest(
            file_id=file.pk,
            attempt=old_attempt,
            location="files/old",
            archive_key_id="0" * 64,
            verified=Verified(b"", 0, 0, 0, "", "", ""),
        )

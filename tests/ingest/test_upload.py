"""PUT /api/inbox/{name} and GET /api/inbox: who may upload, what is refused, what is kept."""

import os
import shutil
import subprocess

import pytest
from django.test import override_settings

from gdi_archive.catalogue.models import File, FileEvent
from gdi_archive.storage import inbox_store
from tests.conftest import client_for

from .conftest import encrypt, entry, put, random_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def encrypted(tmp_path, archive_pub):
    plain = random_file(tmp_path / "sample.bam", 200_000)
    return encrypt(plain, archive_pub).read_bytes()


def _inbox_objects(user) -> list[str]:
    return list(inbox_store().list(f"{user.pk}/"))


def test_archive_key_is_public_plain_text(api):
    response = api.get("/api/archive-key")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert text.startswith("-----BEGIN CRYPT4GH PUBLIC KEY-----")
    assert text.strip().endswith("-----END CRYPT4GH PUBLIC KEY-----")
    assert api.get("/api/archive-key").content == response.content  # stable


def test_upload_registers_the_file_and_lists_it(submitter, encrypted, django_capture_on_commit_callbacks):
    client = client_for(submitter)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = put(client, "sample.bam.c4gh", encrypted)
    assert response.status_code == 201, response.content
    assert response.json() == {
        "name": "sample.bam.c4gh",
        "status": "uploaded",
        "bytes_done": 0,
        "bytes_total": len(encrypted),
        "error": "",
        "accession": None,
        "sha256": None,
        "index_of": None,
        "waiting_for_worker": False,
    }
    assert callbacks  # ingestion waits for the commit ...
    file = File.objects.get(submitter=submitter, inbox_name="sample.bam.c4gh")
    assert (file.name, file.format, file.status) == ("sample.bam", "BAM", "uploaded")
    assert list(FileEvent.objects.filter(file=file).values_list("status", flat=True)) == ["uploaded"]
    with inbox_store().open(file.inbox_location) as stored:
        assert stored.read() == encrypted
    assert entry(client, "sample.bam.c4gh")["status"] == "uploaded"
    from gdi_archive.audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="ingest.upload", target_id=str(file.pk)).exists()
    for callback in callbacks:  # ... and starts once it is committed (tasks run in-process here)
        callback()
    file.refresh_from_db()
    assert file.status == "ready", file.error


def test_checksums_are_taken_from_headers_or_query(submitter, encrypted):
    client = client_for(submitter)
    sha, md5 = "a" * 64, "B" * 32
    assert (
        put(client, "one.vcf.gz.c4gh", encrypted, HTTP_X_CHECKSUM_SHA256=sha, HTTP_X_CHECKSUM_MD5=md5).status_code
        == 201
    )
    response = client.put(
        f"/api/inbox/two.bam.c4gh?sha256={sha}", data=encrypted, content_type="application/octet-stream"
    )
    assert response.status_code == 201
    one, two = File.objects.get(inbox_name="one.vcf.gz.c4gh"), File.objects.get(inbox_name="two.bam.c4gh")
    assert (one.supplied_sha256, one.supplied_md5, one.format) == (sha, md5.lower(), "VCF")
    assert two.supplied_sha256 == sha


def test_malformed_checksum_is_refused(submitter, encrypted):
    response = put(client_for(submitter), "x.bam.c4gh", encrypted, HTTP_X_CHECKSUM_SHA256="not-hex")
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidInput"
    assert "SHA-256" in response.json()["detail"]
    assert not File.objects.exists()


@pytest.mark.parametrize(
    "name",
    [".hidden.c4gh", "sample.bam", "a b.c4gh", "x%2Fy.c4gh", "émoji.c4gh", "a" * 252 + ".c4gh", ".c4gh", "..c4gh"],
)
def test_bad_names_are_refused(submitter, encrypted, name):
    response = put(client_for(submitter), name, encrypted)
    assert response.status_code in (400, 404)
    if response.status_code == 400:
        body = response.json()
        assert body["error"] == "InvalidInput" and body["detail"]
    assert not File.objects.exists()
    assert _inbox_objects(submitter) == []


def test_name_without_c4gh_explains_what_to_do(submitter, encrypted):
    response = put(client_for(submitter), "sample.bam", encrypted)
    assert response.status_code == 400
    assert ".c4gh" in response.json()["detail"]


def test_too_large_is_refused_before_reading(submitter, encrypted):
    with override_settings(INBOX_MAX_BYTES=len(encrypted) - 1):
        response = put(client_for(submitter), "big.bam.c4gh", encrypted)
    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLarge"
    assert str(len(encrypted) - 1) in response.json()["detail"]
    assert not File.objects.exists()
    assert _inbox_objects(submitter) == []


def test_anonymous_gets_401(api, encrypted):
    response = put(api, "sample.bam.c4gh", encrypted)
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    assert api.get("/api/inbox").status_code == 401
    assert not File.objects.exists()


def test_applicant_who_is_not_a_submitter_gets_403(applicant, dac_member, encrypted):
    for user in (applicant, dac_member):
        response = put(client_for(user), "sample.bam.c4gh", encrypted)
        assert response.status_code == 403
        assert response.json()["error"] == "Forbidden"
    assert not File.objects.exists()


def test_stewards_and_operators_may_upload(steward, admin_user, encrypted):
    assert put(client_for(steward), "s.bam.c4gh", encrypted).status_code == 201
    assert put(client_for(admin_user), "s.bam.c4gh", encrypted).status_code == 201  # names are per submitter


def test_listing_shows_only_my_uploads(submitter, steward, encrypted):
    put(client_for(steward), "theirs.bam.c4gh", encrypted)
    put(client_for(submitter), "mine.bam.c4gh", encrypted)
    names = [e["name"] for e in client_for(submitter).get("/api/inbox").json()]
    assert names == ["mine.bam.c4gh"]


def test_reupload_of_a_failed_file_replaces_it(submitter, encrypted, django_capture_on_commit_callbacks):
    client = client_for(submitter)
    with django_capture_on_commit_callbacks(execute=True):  # tasks run in-process here
        put(client, "sample.bam.c4gh", b"first try, not encrypted")
    first = File.objects.get()
    assert first.status == "error" and "not a Crypt4GH file" in first.error
    with django_capture_on_commit_callbacks(execute=False):
        response = put(client, "sample.bam.c4gh", encrypted)
    assert response.status_code == 202
    assert response.json()["status"] == "uploaded" and response.json()["error"] == ""
    file = File.objects.get()
    assert file.pk == first.pk and file.bytes_total == len(encrypted)
    assert _inbox_objects(submitter) == [file.inbox_location]


def test_reupload_of_a_ready_name_is_a_conflict(submitter, encrypted):
    client = client_for(submitter)
    put(client, "sample.bam.c4gh", encrypted)
    File.objects.update(status="ready")
    before = _inbox_objects(submitter)
    response = put(client, "sample.bam.c4gh", encrypted)
    assert response.status_code == 409
    assert response.json()["error"] == "Conflict"
    assert _inbox_objects(submitter) == before


def test_upload_bigger_than_free_space_is_507_and_leaves_nothing(submitter, encrypted):
    """Refused up-front from the store's real free space (here: a Content-Length beyond any disk)."""
    claimed = 2**60
    with override_settings(INBOX_MAX_BYTES=2**62):
        response = client_for(submitter).generic(
            "PUT",
            "/api/inbox/huge.bam.c4gh",
            encrypted,
            content_type="application/octet-stream",
            CONTENT_LENGTH=str(claimed),
        )
    assert response.status_code == 507
    assert response.json()["error"] == "InsufficientStorage"
    assert not File.objects.exists()
    assert _inbox_objects(submitter) == []


@pytest.fixture
def tiny_inbox(tmp_path):
    """A real 4 MiB ext4 filesystem (loop device) as the inbox, when this machine lets us mount one."""
    if os.geteuid() != 0 or not shutil.which("mkfs.ext4") or not shutil.which("mount"):
        pytest.skip("mounting a small filesystem needs root, mkfs.ext4 and mount")
    image, point = tmp_path / "tiny.img", tmp_path / "tiny"
    point.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(4 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-b", "1024", "-m", "0", str(image)], check=True, capture_output=True)
    result = subprocess.run(["mount", "-o", "loop", str(image), str(point)], capture_output=True)
    if result.returncode:
        pytest.skip(f"cannot mount a loop filesystem: {result.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False)


def test_disk_full_during_upload_is_507_with_no_partial_file(submitter, tiny_inbox):
    """The upload fits the free space at the start but not once the folders are made: real ENOSPC mid-write."""
    data = os.urandom(shutil.disk_usage(tiny_inbox).free)
    with override_settings(INBOX_URL=tiny_inbox.as_uri()):
        response = put(client_for(submitter), "sample.bam.c4gh", data)
    assert response.status_code == 507
    assert response.json()["error"] == "InsufficientStorage"
    assert "space" in response.json()["detail"]
    assert not File.objects.exists()
    assert [p for p in tiny_inbox.rglob("*") if p.is_file() and p.name != "lost+found"] == []


def test_archive_key_refuses_writes_with_json(api):
    response = api.post("/api/archive-key", data=b"x", content_type="text/plain")
    assert response.status_code == 405
    assert response.json()["error"] == "MethodNotAllowed"


def test_missing_content_length_is_411(submitter):
    from django.test import Client

    client = Client()
    client.force_login(submitter)
    response = client.generic("PUT", "/api/inbox/x.bam.c4gh", b"", content_type="application/octet-stream")
    assert response.status_code in (400, 411)
    assert not File.objects.exists()


def test_archive_key_matches_the_key_that_opens_uploads(api, submitter, archive_pub, tmp_path):
    """What GET /api/archive-key publishes is what ingest uses (checked by a full in-process ingest)."""
    from gdi_archive.ingest.services import ingest_local_file

    from .conftest import encrypt as enc

    file = ingest_local_file(path=enc(random_file(tmp_path / "k.bam", 1000), archive_pub), submitter=submitter)
    assert file.status == "ready"


def _verified_on_receipt(file: File) -> dict | None:
    from gdi_archive.ingest.models import IngestJob

    return IngestJob.objects.get(file=file).received


def _archive_objects() -> list[str]:
    from gdi_archive.storage import archive_store

    return list(archive_store().list())


def test_a_whole_upload_is_verified_as_it_arrives_and_its_run_only_copies_it(
    submitter, tmp_path, archive_pub, django_capture_on_commit_callbacks
):
    import hashlib

    plain = random_file(tmp_path / "big.bam", 3 * 65536 + 123)
    encrypted = encrypt(plain, archive_pub).read_bytes()
    client = client_for(submitter)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert put(client, "big.bam.c4gh", encrypted).status_code == 201
    file = File.objects.get(submitter=submitter, inbox_name="big.bam.c4gh")
    received = _verified_on_receipt(file)
    assert received is not None and received["inbox_key"] == file.inbox_location
    assert received["sha256"] == hashlib.sha256(plain.read_bytes()).hexdigest()
    assert received["md5"] == hashlib.md5(plain.read_bytes()).hexdigest()  # noqa: S324 - the archive's md5
    for callback in callbacks:
        callback()
    file.refresh_from_db()
    assert file.status == "ready", file.error
    assert (file.sha256, file.md5, file.plaintext_size) == (received["sha256"], received["md5"], plain.stat().st_size)
    from gdi_archive.storage import archive_store

    with archive_store().open(file.location) as stored:
        body = stored.read()
    assert bytes(file.header) + body == encrypted
    assert file.stored_sha256 == hashlib.sha256(body).hexdigest()
    # the body written to the archive as it arrived is the file's body: nothing copied again
    assert file.location == received["staged_key"] and file.location.startswith("files/received/")
    assert _archive_objects() == [file.location]


def test_a_file_that_fails_as_it_arrives_is_kept_and_fails_its_run_as_before(
    submitter, encrypted, django_capture_on_commit_callbacks
):
    damaged = bytearray(encrypted)
    damaged[100_000] ^= 1  # in segment 1 (the header is a few hundred bytes)
    client = client_for(submitter)
    with django_capture_on_commit_callbacks(execute=True):
        response = put(client, "bad.bam.c4gh", bytes(damaged))
    assert response.status_code == 201  # the upload itself is not refused for what is in it
    file = File.objects.get(submitter=submitter, inbox_name="bad.bam.c4gh")
    assert _verified_on_receipt(file) is None
    file.refresh_from_db()
    assert (file.status, file.error) == ("error", "segment 1 fails authentication")


@pytest.mark.parametrize("change", ["one bit of a segment", "another file under the same header"])
def test_an_inbox_object_changed_after_its_upload_is_verified_all_over_again(
    change, submitter, tmp_path, archive_pub, django_capture_on_commit_callbacks
):
    plain = random_file(tmp_path / "x.bam", 200_000)
    encrypted = encrypt(plain, archive_pub).read_bytes()
    client = client_for(submitter)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert put(client, "x.bam.c4gh", encrypted).status_code == 201
    file = File.objects.get(submitter=submitter, inbox_name="x.bam.c4gh")
    assert _verified_on_receipt(file) is not None
    changed = bytearray(encrypted)
    header_length = len(encrypted) - (3 * 65564 + (200_000 - 3 * 65536) + 28)
    if change == "one bit of a segment":
        changed[header_length + 70_000] ^= 1  # segment 1
    else:  # the same header, the segments reordered: every MAC holds, the plaintext differs
        body = encrypted[header_length:]
        segments = [body[i : i + 65564] for i in range(0, len(body), 65564)]
        changed = encrypted[:header_length] + segments[1] + segments[0] + b"".join(segments[2:])
    inbox_store().write(file.inbox_location, [bytes(changed)])
    for callback in callbacks:
        callback()
    file.refresh_from_db()
    assert _archive_objects() == ([file.location] if file.status == "ready" else [])  # the staged body dropped
    if change == "one bit of a segment":
        assert (file.status, file.error) == ("error", "segment 1 fails authentication")
    else:  # verified again: the checksums recorded are those of what was archived, not of the upload
        import hashlib

        assert file.status == "ready", file.error
        swapped = plain.read_bytes()
        swapped = swapped[65536:131072] + swapped[:65536] + swapped[131072:]
        assert file.sha256 == hashlib.sha256(swapped).hexdigest()


def test_an_upload_replaced_before_its_run_leaves_no_staged_body_behind(
    submitter, tmp_path, archive_pub, django_capture_on_commit_callbacks
):
    """The body staged while the first upload arrived is deleted when a second one replaces it."""
    first = encrypt(random_file(tmp_path / "r.bam", 150_000), archive_pub).read_bytes()
    second = encrypt(random_file(tmp_path / "r2.bam", 90_000), archive_pub).read_bytes()
    client = client_for(submitter)
    with django_capture_on_commit_callbacks(execute=False):
        assert put(client, "r.bam.c4gh", first).status_code == 201
    file = File.objects.get(submitter=submitter, inbox_name="r.bam.c4gh")
    staged_first = _verified_on_receipt(file)["staged_key"]
    assert _archive_objects() == [staged_first]
    with django_capture_on_commit_callbacks(execute=True):
        assert put(client, "r.bam.c4gh", second).status_code in (201, 202)
    file.refresh_from_db()
    assert file.status == "ready", file.error
    assert _archive_objects() == [file.location] and file.location != staged_first
    from gdi_archive.storage import archive_store

    with archive_store().open(file.location) as stored:
        assert bytes(file.header) + stored.read() == second


def test_a_file_that_fails_as_it_arrives_stages_nothing(submitter, encrypted, django_capture_on_commit_callbacks):
    damaged = bytearray(encrypted)
    damaged[-10] ^= 1  # the last segment's MAC
    client = client_for(submitter)
    with django_capture_on_commit_callbacks(execute=False):
        assert put(client, "bad2.bam.c4gh", bytes(damaged)).status_code == 201
    assert _archive_objects() == []

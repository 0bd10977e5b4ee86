"""Archive keys: generated once, published, rotated without touching bodies, rotation re-runnable."""

import hashlib
import io
import os
import stat
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gdi_archive.catalogue.models import File
from gdi_archive.crypt4gh.keys import key_id, parse_public_key
from gdi_archive.storage import archive_store
from tests.conftest import client_for

from .conftest import CRYPT4GH, archive_passphrase, archive_secret_key_file, decrypt, encrypt, random_file

pytestmark = pytest.mark.django_db


def _ingest(path, submitter) -> File:
    out = io.StringIO()
    call_command("ingest_file", str(path), "--user", submitter.username, stdout=out)
    assert "ready" in out.getvalue()
    return File.objects.get(inbox_name=path.name)


def _current_pub(api) -> bytes:
    return parse_public_key(api.get("/api/archive-key").content.decode())


def test_generated_key_is_protected(api):
    api.get("/api/archive-key")
    secret = archive_secret_key_file()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in secret.read_text()
    # Protected by the passphrase: the crypt4gh tool cannot use it without one.
    env = {k: v for k, v in os.environ.items() if k != "C4GH_PASSPHRASE"}
    result = subprocess.run(
        [CRYPT4GH, "decrypt", "--sk", str(secret)], input=b"", capture_output=True, env=env, timeout=30
    )
    assert result.returncode != 0


def test_rotation_rekeys_headers_and_leaves_bodies(api, submitter, tmp_path, archive_pub):
    originals = [random_file(tmp_path / f"f{i}.bam", 70_000 + i) for i in range(3)]
    files = [_ingest(encrypt(p, archive_pub), submitter) for p in originals]
    old_secret = archive_secret_key_file()
    old_id = key_id(_current_pub(api))
    assert {f.archive_key_id for f in files} == {old_id}
    bodies = {f.pk: archive_store().open(f.location).read() for f in files}

    out = io.StringIO()
    call_command("rotate_archive_key", "--generate", stdout=out)
    new_id = key_id(_current_pub(api))
    assert new_id != old_id
    assert "3 header(s) re-encrypted" in out.getvalue() and "[3/3]" in out.getvalue()

    new_secret = archive_secret_key_file()
    assert new_secret != old_secret
    for file, plain in zip(files, originals, strict=True):
        file.refresh_from_db()
        assert file.archive_key_id == new_id
        body = archive_store().open(file.location).read()
        assert body == bodies[file.pk]  # not touched
        assert hashlib.sha256(body).hexdigest() == file.stored_sha256
        stream = bytes(file.header) + body
        assert decrypt(stream, new_secret, archive_passphrase()) == plain.read_bytes()
        with pytest.raises(subprocess.CalledProcessError):
            decrypt(stream, old_secret, archive_passphrase())

    again = io.StringIO()
    call_command("rotate_archive_key", stdout=again)
    assert "0 header(s) re-encrypted" in again.getvalue()
    assert [bytes(f.header) for f in File.objects.order_by("id")] == [
        bytes(File.objects.get(pk=f.pk).header) for f in files
    ]


def test_rotation_stopped_half_way_finishes_the_rest(api, submitter, tmp_path, archive_pub):
    from gdi_archive.ingest.rotation import rekey_header

    files = [_ingest(encrypt(random_file(tmp_path / f"g{i}.bam", 1000), archive_pub), submitter) for i in range(3)]
    call_command("rotate_archive_key", "--generate", stdout=io.StringIO())
    # Simulate a second rotation that stopped after the first file.
    from gdi_archive.keyring.archive import generate_new_archive_key

    generate_new_archive_key()
    rekey_header(file_id=files[0].pk, actor="test")
    header_before = bytes(File.objects.get(pk=files[0].pk).header)
    out = io.StringIO()
    call_command("rotate_archive_key", stdout=out)
    assert "2 header(s) re-encrypted" in out.getvalue()
    assert bytes(File.objects.get(pk=files[0].pk).header) == header_before  # done once, not again
    assert len({f.archive_key_id for f in File.objects.all()}) == 1


def test_files_encrypted_to_an_older_key_still_ingest(api, submitter, tmp_path, archive_pub):
    call_command("rotate_archive_key", "--generate", stdout=io.StringIO())
    plain = random_file(tmp_path / "late.bam", 5000)
    file = _ingest(encrypt(plain, archive_pub), submitter)  # archive_pub is the key before the rotation
    assert file.status == "ready"
    assert file.archive_key_id == key_id(parse_public_key(archive_pub.read_text()))


def test_production_never_generates(settings):
    settings.C4GH_SECRET_KEY_FILES = [str(archive_secret_key_file())]
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="C4GH_SECRET_KEY_FILE"):
        call_command("rotate_archive_key", "--generate", stdout=io.StringIO())


def test_ingest_file_command_reports_a_bad_file(submitter, tmp_path):
    bad = tmp_path / "bad.bam.c4gh"
    bad.write_bytes(b"not encrypted at all")
    with pytest.raises(CommandError, match="not a Crypt4GH file"):
        call_command("ingest_file", str(bad), "--user", submitter.username, stdout=io.StringIO())
    assert File.objects.get().status == "error"


def test_ingest_file_command_checks_the_submitted_checksum(submitter, tmp_path, archive_pub):
    plain = random_file(tmp_path / "c.bam", 2000)
    good = hashlib.sha256(plain.read_bytes()).hexdigest()
    encrypted = encrypt(plain, archive_pub)
    out = io.StringIO()
    call_command("ingest_file", str(encrypted), "--user", submitter.username, "--sha256", good, stdout=out)
    assert good in out.getvalue()
    with pytest.raises(CommandError, match="checksum mismatch"):
        call_command(
            "ingest_file",
            str(encrypted),
            "--user",
            submitter.username,
            "--name",
            "d.bam.c4gh",
            "--sha256",
            "1" * 64,
            stdout=io.StringIO(),
        )


def test_admin_shows_progress_and_history_to_stewards_only(steward, dac_member, submitter, tmp_path, archive_pub):
    file = _ingest(encrypt(random_file(tmp_path / "a.bam", 3000), archive_pub), submitter)
    page = client_for(steward).get(f"/admin/catalogue/file/{file.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert file.accession in text and file.sha256 in text and "History" in text and "archived:" in text
    listing = client_for(steward).get("/admin/catalogue/file/?status__exact=ready&q=a.bam")
    assert listing.status_code == 200 and file.accession in listing.content.decode()
    assert client_for(dac_member).get(f"/admin/catalogue/file/{file.pk}/change/").status_code in (302, 403)


def test_admin_restarts_a_failed_ingest(steward, submitter, tmp_path, archive_pub, django_capture_on_commit_callbacks):
    from gdi_archive.ingest.runs import claim_ingest, fail_ingest

    client = client_for(submitter)
    with django_capture_on_commit_callbacks(execute=False):
        client.put(
            "/api/inbox/r.bam.c4gh",
            data=encrypt(random_file(tmp_path / "r.bam", 3000), archive_pub).read_bytes(),
            content_type="application/octet-stream",
        )
    file = File.objects.get()
    _, attempt, _ = claim_ingest(file_id=file.pk, worker="w")
    fail_ingest(file_id=file.pk, attempt=attempt, reason="The archive store is full; an operator must add space")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(steward).post(
            "/admin/catalogue/file/", {"action": "ingest_again", "_selected_action": [file.pk]}
        )
    assert response.status_code == 302
    file.refresh_from_db()
    assert file.status == "ready" and file.accession


def test_rotation_to_a_configured_key_file(api, submitter, tmp_path, archive_pub):
    """Production's way: the operator puts a new key file first in C4GH_SECRET_KEY_FILE, then rotates."""
    from django.test import override_settings

    from gdi_archive.crypt4gh.keys import generate_keypair

    plain = random_file(tmp_path / "p.bam", 9000)
    file = _ingest(encrypt(plain, archive_pub), submitter)
    old_secret = archive_secret_key_file()
    new_secret, new_public = tmp_path / "new.sec", tmp_path / "new.pub"
    generate_keypair(new_secret, new_public, archive_passphrase())
    with override_settings(C4GH_SECRET_KEY_FILES=[str(new_secret), str(old_secret)]):
        assert parse_public_key(api.get("/api/archive-key").content.decode()) == parse_public_key(
            new_public.read_text()
        )
        out = io.StringIO()
        call_command("rotate_archive_key", stdout=out)
        assert "1 header(s) re-encrypted" in out.getvalue()
        file.refresh_from_db()
        assert file.archive_key_id == key_id(parse_public_key(new_public.read_text()))
        body = archive_store().open(file.location).read()
        assert decrypt(bytes(file.header) + body, new_secret, archive_passphrase()) == plain.read_bytes()
        with pytest.raises(CommandError, match="C4GH_SECRET_KEY_FILE"):
            call_command("rotate_archive_key", "--generate", stdout=io.StringIO())


def test_development_generates_a_passphrase_file_when_none_is_set(tmp_path):
    from django.test import override_settings

    from gdi_archive.keyring import archive as keys

    with override_settings(KEYS_DIR=tmp_path / "keys", C4GH_PASSPHRASE=None, C4GH_SECRET_KEY_FILES=[]):
        keys.ensure_archive_keys()
        keys.ensure_archive_keys()  # once only
        passphrase_file = tmp_path / "keys" / "c4gh_passphrase"
        assert stat.S_IMODE(passphrase_file.stat().st_mode) == 0o600
        secrets = list((tmp_path / "keys").glob("c4gh-archive-*.sec"))
        assert len(secrets) == 1
        pub = keys.current_public_key()
        plain = random_file(tmp_path / "x", 1000)
        pub_file = tmp_path / "k.pub"
        from gdi_archive.crypt4gh.keys import format_public_key

        pub_file.write_text(format_public_key(pub))
        assert (
            decrypt(encrypt(plain, pub_file).read_bytes(), secrets[0], passphrase_file.read_text().strip())
            == plain.read_bytes()
        )

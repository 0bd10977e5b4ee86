"""Integrity: every download decrypts to exactly the original bytes, and archive_verify notices
when the stored body, the header or the recorded checksums stop agreeing.

Files are archived by the real ingest (encrypted to the archive key, verified, stored);
downloads go through the HTTP API with a passport token minted over POST /api/tokens, and are
decrypted by the real crypt4gh library (and by the crypt4gh command-line tool in a fixed case).
"""

import base64
import io
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from crypt4gh import lib as c4gh_lib
from crypt4gh import sodium
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdi_archive.catalogue.models import File
from gdi_archive.storage import archive_store
from tests.downloads.conftest import ClientKeyPair, entitle, release, store_ready_file

from .conftest import bearer_client

SEGMENT = 65536
REPO = Path(__file__).resolve().parents[2]


def archive(submitter, folder: Path, data: bytes, name: str | None = None) -> File:
    path = folder / (name or f"f-{uuid.uuid4().hex[:10]}.bin")
    path.write_bytes(data)
    file = store_ready_file(submitter=submitter, path=path)
    path.unlink()
    return file


def lib_decrypt(stream: bytes, sk: bytes) -> bytes:
    out = io.BytesIO()
    c4gh_lib.decrypt([(0, sk, None)], io.BytesIO(stream), out)
    return out.getvalue()


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def world(db, steward, dac, applicant, tmp_path):
    """A released dataset the applicant is entitled to, and the applicant's bearer-token client."""
    dataset = release(dac=dac, steward=steward, files=[])
    entitle(applicant, dataset)
    return {"dataset": dataset, "client": bearer_client(applicant), "steward": steward, "folder": tmp_path}


# Sizes around segment boundaries are where off-by-one errors live; the rest are random.
sizes = st.one_of(
    st.sampled_from([1, 2, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT, 3 * SEGMENT + 17]),
    st.integers(min_value=1, max_value=4 * SEGMENT + 999),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(size=sizes, seed=st.integers(0, 2**32), data=st.data())
def test_every_download_decrypts_to_exactly_the_original_bytes(world, size, seed, data):
    rng = random.Random(seed)
    original = rng.randbytes(size)
    file = archive(world["steward"], world["folder"], original)
    world["dataset"].files.add(file)
    client, acc = world["client"], file.accession
    sk = rng.randbytes(32)
    key = {"HTTP_X_C4GH_PUBLIC_KEY": base64.b64encode(sodium.derive_pk(sk)).decode()}

    # The whole file.
    whole = client.get(f"/api/files/{acc}", **key)
    assert whole.status_code == 200, whole.content
    stream = body_of(whole)
    assert int(whole["Content-Length"]) == len(stream)
    assert lib_decrypt(stream, sk) == original

    # A resumed download: two HTTP ranges of the same stream splice into the same bytes.
    cut = data.draw(st.integers(1, len(stream) - 1), label="resume at")
    tail = client.get(f"/api/files/{acc}", HTTP_RANGE=f"bytes={cut}-", HTTP_IF_RANGE=whole["ETag"], **key)
    assert tail.status_code == 206, tail.content
    assert stream[:cut] + body_of(tail) == stream

    # A plaintext range (end exclusive, clamped at the size): the edit list trims to exactly it.
    start = data.draw(st.integers(0, size - 1), label="start")
    end = data.draw(st.integers(start, size + 2 * SEGMENT), label="end")
    ranged = client.get(f"/api/files/{acc}", {"start": start, "end": end}, **key)
    assert ranged.status_code == 200, ranged.content
    assert lib_decrypt(body_of(ranged), sk) == original[start:end]

    # The same range as header + content, fetched separately (how the client resumes bodies).
    header = client.get(f"/api/files/{acc}/header", {"start": start, "end": end}, **key)
    content = client.get(f"/api/files/{acc}/content", {"start": start, "end": end})
    assert header.status_code == 200 and content.status_code == 200, (header.content, content)
    assert lib_decrypt(header.content + body_of(content), sk) == original[start:end]

    # A start past the end is refused, not answered with an empty or wrong stream.
    past = client.get(f"/api/files/{acc}", {"start": size + data.draw(st.integers(0, 3 * SEGMENT))}, **key)
    assert past.status_code == 416, past.content
    assert past.json()["error"]


def test_the_crypt4gh_tool_decrypts_ranges_across_segment_boundaries(world, tmp_path):
    original = os.urandom(3 * SEGMENT + 100)
    file = archive(world["steward"], tmp_path, original)
    world["dataset"].files.add(file)
    keys = ClientKeyPair(tmp_path, "tool")
    for start, end in [
        (0, 1),
        (SEGMENT - 1, SEGMENT + 1),
        (SEGMENT, 2 * SEGMENT),
        (2, 3 * SEGMENT + 100),
        (3 * SEGMENT + 99, None),
    ]:
        params = {"start": start} | ({"end": end} if end is not None else {})
        response = world["client"].get(f"/api/files/{file.accession}", params, HTTP_X_C4GH_PUBLIC_KEY=keys.header_value)
        assert response.status_code == 200, response.content
        assert keys.decrypt(body_of(response)) == original[start:end]


# --- archive_verify ------------------------------------------------------------------------------


@pytest.fixture
def archived(db, steward, tmp_path):
    """Three archived files: two data files of different sizes and an index of the first."""
    first = archive(steward, tmp_path, os.urandom(2 * SEGMENT + 5), "sample.bam")
    index = archive(steward, tmp_path, os.urandom(3000), "sample.bam.bai")
    second = archive(steward, tmp_path, os.urandom(SEGMENT // 2), "calls.vcf.gz")
    assert index.index_of_id == first.pk and index.status == File.Status.READY
    return {"first": first, "index": index, "second": second}


def verify(*args) -> tuple[str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("archive_verify", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def stored_path(file: File) -> Path:
    from django.conf import settings as dj

    return Path(dj.STORAGE_URL.removeprefix("file://")) / file.location


def test_archive_verify_passes_on_a_clean_archive(archived):
    out, error = verify()
    assert error is None, out
    assert "Checked 3 archived file(s)" in out and "3 ok, 0 with problems" in out
    assert "MISMATCH" not in out
    out, error = verify("--quick")
    assert error is None and "quick" in out


def test_archive_verify_catches_a_corrupted_body(archived):
    path = stored_path(archived["first"])
    data = bytearray(path.read_bytes())
    data[SEGMENT + 100] ^= 0x01  # one bit in segment 1
    path.write_bytes(bytes(data))
    out, error = verify()
    assert error is not None and "1 file(s) failed verification" in str(error)
    acc = archived["first"].accession
    assert f"MISMATCH {acc}: body-sha256-mismatch" in out
    assert f"MISMATCH {acc}: segment-authentication: segment 1 fails authentication" in out
    assert "2 ok, 1 with problems" in out
    # --quick still sees it: the body's own checksum no longer matches.
    out, error = verify("--quick")
    assert error is not None and f"{acc}: body-sha256-mismatch" in out


def test_archive_verify_catches_a_wrong_recorded_checksum(archived):
    second = archived["second"]
    File.objects.filter(pk=second.pk).update(sha256="0" * 64)
    out, error = verify()
    assert error is not None
    assert f"MISMATCH {second.accession}: sha256-mismatch" in out
    # The quick check does not decrypt, so it cannot see a plaintext checksum problem; say so by passing.
    out, error = verify("--quick")
    assert error is None, out


def test_archive_verify_catches_a_missing_object_and_a_truncated_one(archived):
    archive_store().delete(archived["second"].location)
    path = stored_path(archived["index"])
    path.write_bytes(path.read_bytes()[:-10])
    out, error = verify()
    assert error is not None and "2 file(s) failed verification" in str(error)
    assert f"MISMATCH {archived['second'].accession}: missing-object" in out
    index_label = f"sample.bam.bai (index of {archived['first'].accession})"
    assert f"MISMATCH {index_label}: size-mismatch" in out


def test_archive_verify_catches_a_header_no_archive_key_opens(archived):
    from gdi_archive.crypt4gh.header import reencrypt_header
    from gdi_archive.keyring.archive import archive_secret_keys

    first = archived["first"]
    stranger = sodium.derive_pk(os.urandom(32))
    foreign = reencrypt_header(bytes(first.header), archive_secret_keys(), stranger)
    File.objects.filter(pk=first.pk).update(header=foreign)
    out, error = verify(first.accession)
    assert error is not None
    assert f"MISMATCH {first.accession}: header-unreadable: no archive key opens the stored header" in out
    assert "Checked 1 archived file(s)" in out


def test_archive_verify_refuses_an_unknown_accession(archived):
    out, error = verify("GDIF99999999999")
    assert error is not None and "GDIF99999999999: not-archived" in out


@pytest.mark.django_db(transaction=True)
def test_archive_verify_exit_status_for_operators(steward, tmp_path):
    """As cron runs it: a separate process on the same database, exit 0 when clean and 1 when not."""
    from django.db import connection

    file = archive(steward, tmp_path, os.urandom(SEGMENT + 1))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gdi_archive.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
    }
    command = [sys.executable, "manage.py", "archive_verify", "--no-progress"]
    clean = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "1 ok, 0 with problems" in clean.stdout
    File.objects.filter(pk=file.pk).update(stored_sha256="f" * 64)
    broken = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    assert f"MISMATCH {file.accession}: body-sha256-mismatch" in broken.stdout
    assert "failed verification" in broken.stderr

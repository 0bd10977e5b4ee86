"""Hostile input, each refused cleanly: the right status, a JSON error body, no 500, nothing
half-written and no row changed.

The passport attack corpus (alg none, HS256 with our public key, expired, future iat, wrong
iss, untrusted or internal jku, unknown kid, tampered payload, sub mismatch, garbage, oversized
and malformed tokens) lives in tests/passports/test_tokens.py and test_clearinghouse.py and is
not repeated here. Slow uploads and oversized header lines need the real gunicorn and are in
test_faults.py.
"""

import json
import os
import random
import uuid
from pathlib import Path

import pytest
from django.db import transaction
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdi_archive.catalogue.models import File
from gdi_archive.storage import StorageError
from tests.conftest import client_for
from tests.downloads import genomic_data
from tests.downloads.conftest import ClientKeyPair, entitle, release, store_ready_file

from .conftest import bearer_client

SEGMENT = 65536


def is_json_error(response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and bool(body.get("error")) and bool(body.get("detail"))


@pytest.fixture
def submitter_client(steward):
    return client_for(steward)


def inbox_objects(isolated_stores) -> list[Path]:
    root = Path(isolated_stores["INBOX_URL"].removeprefix("file://"))
    return [p for p in root.rglob("*") if p.is_file()]


# --- path traversal -------------------------------------------------------------------------------

ESCAPING_NAMES = [
    "..%2F..%2Fetc%2Fpasswd.c4gh",
    "..%2Fx.c4gh",
    "%2E%2E%2Fx.c4gh",
    "..",
    "...c4gh",
    ".hidden.c4gh",
    "a%5C..%5Cb.c4gh",
    "a%00b.c4gh",
    "x%0Ay.c4gh",
    "%2Fetc%2Fpasswd.c4gh",
    "~root.c4gh",
    "a b.c4gh",
    "%C3%A9t%C3%A9.c4gh",
    "x" * 300 + ".c4gh",
    "plain.bam",
    ".c4gh",
    "a..b.c4gh",
    "CON%3A.c4gh",
]


@pytest.mark.parametrize("name", ESCAPING_NAMES)
def test_inbox_names_that_could_escape_the_inbox_are_refused(submitter_client, steward, isolated_stores, name):
    response = submitter_client.put(
        f"/api/inbox/{name}", data=b"crypt4gh-ish bytes", content_type="application/octet-stream"
    )
    assert response.status_code in (400, 404), (name, response.status_code, response.content[:200])
    assert is_json_error(response), response.content[:300]
    assert not File.objects.exists()
    assert inbox_objects(isolated_stores) == []


def test_a_catalogue_row_pointing_outside_the_store_serves_nothing(db, steward, dac, applicant, tmp_path):
    """Defence in depth: even a tampered `location` cannot read a file beside the archive store."""
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not for you\n" * 100)
    data = tmp_path / "reads.bin"
    data.write_bytes(os.urandom(5000))
    file = store_ready_file(submitter=steward, path=data)
    dataset = release(dac=dac, steward=steward, files=[file])
    entitle(applicant, dataset)
    client = bearer_client(applicant)
    keys = ClientKeyPair(tmp_path)
    for location in ("../secret.txt", "/" + str(secret).lstrip("/"), "a/../../secret.txt", "..\\secret.txt"):
        File.objects.filter(pk=file.pk).update(location=location)
        for path, extra in (
            (f"/api/files/{file.accession}/content", {}),
            (f"/api/files/{file.accession}", {"HTTP_X_C4GH_PUBLIC_KEY": keys.header_value}),
        ):
            client.raise_request_exception = False
            response = client.get(path, **extra)
            body, aborted = response.content if not response.streaming else b"", False
            if response.streaming:
                try:
                    for chunk in response.streaming_content:
                        body += chunk
                except StorageError:  # what a client on the wire sees as a connection cut short
                    aborted = True
            assert b"not for you" not in body, (location, path)
            assert response.status_code >= 400 or aborted, (location, path, response.status_code)


# --- oversized bodies -------------------------------------------------------------------------------


def test_an_upload_larger_than_the_limit_is_refused_before_a_byte_is_stored(submitter_client, isolated_stores):
    with override_settings(INBOX_MAX_BYTES=1000):
        response = submitter_client.put(
            "/api/inbox/big.bin.c4gh", data=b"x" * 1001, content_type="application/octet-stream"
        )
    assert response.status_code == 413 and is_json_error(response), response.content
    assert response.json()["error"] == "PayloadTooLarge"
    assert inbox_objects(isolated_stores) == [] and not File.objects.exists()


def test_an_upload_without_content_length_is_refused(submitter_client, isolated_stores):
    response = submitter_client.generic(
        "PUT", "/api/inbox/nolength.c4gh", data=b"", content_type="application/octet-stream"
    )
    assert response.status_code in (400, 411) and is_json_error(response), response.content
    assert inbox_objects(isolated_stores) == []


@pytest.mark.parametrize("path", ["/api/access-requests", "/api/datasets", "/api/dacs", "/api/tokens", "/api/exports"])
def test_an_oversized_json_body_is_a_clean_refusal(db, steward, path):
    body = json.dumps({"title": "x" * (3 * 1024 * 1024), "datasets": [], "files": []})
    client = client_for(steward)
    client.raise_request_exception = False
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code in (400, 413), (path, response.status_code, response.content[:300])
    assert is_json_error(response), (path, response.content[:300])


# --- malformed JSON and parameters, fuzzed ----------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["GDID00000000001", "GDIF00000000001", "DUO:0000042", "2026-13-45", "alice", ""]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "datasets",
                    "title",
                    "purpose",
                    "accept_terms",
                    "files",
                    "dataset",
                    "end",
                    "reason",
                    "comment",
                    "name",
                    "dac",
                    "duo",
                    "username",
                    "lifetime",
                    "max_access_days",
                    "public_key",
                    "regions",
                    "format",
                    "class",
                    "encryptionScheme",
                    "referenceName",
                    "start",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=12,
)
POST_ENDPOINTS = [
    "/api/access-requests",
    "/api/access-requests/{req}/approve",
    "/api/access-requests/{req}/reject",
    "/api/access-requests/{req}/return",
    "/api/access-requests/{req}/submit",
    "/api/entitlements/{ent}/revoke",
    "/api/dacs",
    "/api/dacs/{dac}/members",
    "/api/datasets",
    "/api/datasets/{ds}/files",
    "/api/datasets/{ds}/release",
    "/api/tokens",
    "/api/exports",
    "/htsget/reads/{file}",
    "/htsget/variants/{file}",
]


@pytest.fixture
def fuzz_world(db, steward, dac, applicant, dac_member, tmp_path):
    from gdi_archive.access.models import AccessRequest

    data = tmp_path / "reads.bin"
    data.write_bytes(os.urandom(3000))
    file = store_ready_file(submitter=steward, path=data)
    dataset = release(dac=dac, steward=steward, files=[file])
    entitlement = entitle(applicant, dataset)
    req = AccessRequest.objects.create(
        applicant=applicant, dac=dac, title="T", purpose="P", status=AccessRequest.Status.SUBMITTED
    )
    req.datasets.add(dataset)
    names = {
        "req": req.pk,
        "ent": entitlement.pk,
        "dac": dac.accession,
        "ds": dataset.accession,
        "file": file.accession,
    }
    clients = [client_for(steward), client_for(dac_member), bearer_client(applicant)]
    for client in clients:
        client.raise_request_exception = False
    return {"names": names, "clients": clients, "keys": ClientKeyPair(tmp_path)}


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    endpoint=st.sampled_from(POST_ENDPOINTS),
    body=JSON_VALUES,
    who=st.integers(0, 2),
    raw=st.booleans(),
    junk=st.binary(max_size=40),
)
def test_malformed_json_bodies_get_clean_refusals(fuzz_world, endpoint, body, who, raw, junk):
    path = endpoint.format(**fuzz_world["names"])
    payload = junk if raw else json.dumps(body)
    with transaction.atomic():
        response = fuzz_world["clients"][who].post(
            path, data=payload, content_type="application/json", HTTP_X_C4GH_PUBLIC_KEY=fuzz_world["keys"].header_value
        )
        transaction.set_rollback(True)
    assert response.status_code < 500, (path, payload, response.status_code, response.content[:300])
    if response.status_code >= 400:
        body = response.json()
        assert (body.get("error") and body.get("detail")) or body.get("htsget", {}).get("error"), (path, payload, body)


QUERY_VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=12),
    st.sampled_from(["", "1e3", "0x10", " 5", "5 ", "NaN", "-0", "chr1", "*", "BAM", "C4GH", "header"]),
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    kind=st.sampled_from(["file", "content", "header", "reads", "variants", "drs"]),
    params=st.dictionaries(
        st.sampled_from(["start", "end", "referenceName", "class", "format", "encryptionScheme", "fields"]),
        QUERY_VALUES,
        max_size=4,
    ),
    range_header=st.one_of(
        st.none(), st.text(max_size=20), st.sampled_from(["bytes=0-", "bytes=-0", "bytes=99999999-", "bytes=5-1"])
    ),
)
def test_malformed_download_parameters_get_clean_refusals(fuzz_world, kind, params, range_header):
    acc = fuzz_world["names"]["file"]
    path = {
        "file": f"/api/files/{acc}",
        "content": f"/api/files/{acc}/content",
        "header": f"/api/files/{acc}/header",
        "reads": f"/htsget/reads/{acc}",
        "variants": f"/htsget/variants/{acc}",
        "drs": f"/ga4gh/drs/v1/objects/{acc}",
    }[kind]
    extra = {"HTTP_X_C4GH_PUBLIC_KEY": fuzz_world["keys"].header_value}
    if range_header is not None:
        extra["HTTP_RANGE"] = range_header.replace("\n", " ").replace("\r", " ")
    response = fuzz_world["clients"][2].get(path, params, **extra)
    if response.streaming:
        b"".join(response.streaming_content)
    assert response.status_code < 500, (path, params, range_header, response.status_code, response.content[:300])
    if response.status_code >= 400 and response.status_code != 416:
        body = response.json()
        assert body.get("error") or body.get("htsget", {}).get("error") or body.get("msg"), (path, params, body)


def test_a_nul_in_a_range_header_is_not_a_500(fuzz_world):
    acc = fuzz_world["names"]["file"]
    response = fuzz_world["clients"][2].get(
        f"/api/files/{acc}", HTTP_RANGE="bytes=\x000-", HTTP_X_C4GH_PUBLIC_KEY=fuzz_world["keys"].header_value
    )
    assert response.status_code < 500, response.content[:300]


# --- malformed Crypt4GH -------------------------------------------------------------------------------

KNOWN_REASONS = (
    "not a Crypt4GH file",
    "not encrypted for any archive key",
    "truncated",
    "fails authentication",
    "header",
    "checksum mismatch",
    "packet",
    "edit list",
    "version",
)


@pytest.fixture
def valid_upload(db, steward, tmp_path):
    """A valid Crypt4GH file for the archive key (three segments), as bytes."""
    from crypt4gh import lib as c4gh_lib

    from gdi_archive.keyring.archive import current_public_key

    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(2 * SEGMENT + 999))
    encrypted = tmp_path / "plain.bin.c4gh"
    with open(plain, "rb") as source, open(encrypted, "wb") as target:
        c4gh_lib.encrypt([(0, os.urandom(32), current_public_key())], source, target)
    return {"bytes": encrypted.read_bytes(), "steward": steward, "folder": tmp_path}


def archive_objects(isolated_stores) -> list[Path]:
    root = Path(isolated_stores["STORAGE_URL"].removeprefix("file://"))
    return [p for p in root.rglob("*") if p.is_file()]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    how=st.sampled_from(["flip", "truncate", "append", "splice", "zero-header"]),
    where=st.floats(0, 1),
    seed=st.integers(0, 2**32),
)
def test_damaged_crypt4gh_never_reaches_the_archive(valid_upload, isolated_stores, how, where, seed):
    """Any damage to a Crypt4GH upload ends in `error` with a reason a person understands."""
    from gdi_archive.ingest.services import ingest_local_file

    rng = random.Random(seed)
    data = bytearray(valid_upload["bytes"])
    at = min(int(where * len(data)), len(data) - 1)
    if how == "flip":
        data[at] ^= 1 << rng.randrange(8)
    elif how == "truncate":
        data = data[:at]
    elif how == "append":
        data += rng.randbytes(rng.randrange(1, 200))
    elif how == "splice":
        data[at:at] = rng.randbytes(rng.randrange(1, 50))
    else:
        data[16 : 16 + rng.randrange(1, 120)] = b"\0" * 0 + bytes(rng.randrange(1, 120))
    if not data:
        data = bytearray(b"\0")
    path = valid_upload["folder"] / f"damaged-{uuid.uuid4().hex[:8]}.bin.c4gh"
    path.write_bytes(bytes(data))
    before = set(archive_objects(isolated_stores))
    file = ingest_local_file(path=path, submitter=valid_upload["steward"])
    assert file.status == File.Status.ERROR, (how, at, file.status)
    assert file.error and "Traceback" not in file.error and len(file.error) < 500
    assert any(reason.lower() in file.error.lower() for reason in KNOWN_REASONS), file.error
    assert file.accession is None and not file.location
    assert set(archive_objects(isolated_stores)) == before


# --- malformed indexes ---------------------------------------------------------------------------------


def _bai_claiming(n_ref: int) -> bytes:
    return b"BAI\x01" + n_ref.to_bytes(4, "little", signed=True) + os.urandom(64)


CORRUPT_INDEXES = {
    "random bytes": lambda good: os.urandom(len(good)),
    "truncated": lambda good: good[: len(good) // 2],
    "empty-ish": lambda good: b"BAI\x01",
    "huge reference count": lambda good: _bai_claiming(2**31 - 1),
    "negative reference count": lambda good: _bai_claiming(-5),
    "bins out of range": lambda good: good[:8] + (2**31 - 1).to_bytes(4, "little") + good[12:],
    "flipped chunk offsets": lambda good: good[:40] + bytes(b ^ 0xFF for b in good[40:200]) + good[200:],
}


@pytest.fixture(scope="module")
def bam_with_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bam")
    bam = genomic_data.make_bam(folder, reads_per_ref=400, unmapped=5)
    return bam, bam.with_name(bam.name + ".bai").read_bytes()


@pytest.mark.parametrize("damage", sorted(CORRUPT_INDEXES))
def test_a_corrupt_index_gives_a_clean_htsget_error(db, steward, dac, applicant, tmp_path, bam_with_index, damage):
    """Whether ingest refuses the index or htsget meets it later, nobody gets a 500 or a traceback."""
    from gdi_archive.ingest.services import ingest_local_file

    bam, good_index = bam_with_index
    local = tmp_path / "sample.bam"
    local.write_bytes(bam.read_bytes())
    data = store_ready_file(submitter=steward, path=local, fmt=File.Format.BAM)
    bad = tmp_path / "sample.bam.bai"
    bad.write_bytes(CORRUPT_INDEXES[damage](good_index))
    from crypt4gh import lib as c4gh_lib

    from gdi_archive.keyring.archive import current_public_key

    encrypted = tmp_path / "sample.bam.bai.c4gh"
    with open(bad, "rb") as source, open(encrypted, "wb") as target:
        c4gh_lib.encrypt([(0, os.urandom(32), current_public_key())], source, target)
    index = ingest_local_file(path=encrypted, submitter=steward)
    if index.status == File.Status.ERROR:  # refused at ingest: fine, with a reason
        assert index.error and "Traceback" not in index.error
    else:
        assert index.index_of_id == data.pk  # the damaged index is the one htsget will read
    dataset = release(dac=dac, steward=steward, files=[data])
    entitle(applicant, dataset)
    client = bearer_client(applicant)
    client.raise_request_exception = False
    keys = ClientKeyPair(tmp_path)
    for params in (
        {"referenceName": "chr1", "start": 1000, "end": 50000},
        {"class": "header"},
        {"referenceName": "chr2"},
    ):
        response = client.get(
            f"/htsget/reads/{data.accession}",
            {"encryptionScheme": "C4GH", **params},
            HTTP_X_C4GH_PUBLIC_KEY=keys.header_value,
        )
        assert response.status_code < 500, (damage, params, response.status_code, response.content[:300])
        body = response.json()
        if response.status_code != 200:
            assert body["htsget"]["error"] and body["htsget"]["message"], body


def test_a_bearer_token_that_is_not_a_passport_is_refused_everywhere(db, fuzz_world):
    """A smoke check that the attack corpus in tests/passports covers the download surface too."""
    acc = fuzz_world["names"]["file"]
    for token in ("x" * 100_000, "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.", "\u00e9\u00e9"):
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        client.raise_request_exception = False
        for path in (
            f"/api/files/{acc}/content",
            f"/htsget/reads/{acc}",
            f"/ga4gh/drs/v1/objects/{acc}",
            "/api/datasets",
        ):
            response = client.get(path)
            assert response.status_code == 401, (token[:20], path, response.status_code)

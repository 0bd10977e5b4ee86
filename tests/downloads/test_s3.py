"""With the archive in S3, body blocks are presigned S3 URLs with a signed Range, and the API
streams from S3: both still decrypt with the crypt4gh tool to the right bytes."""

import base64

import pytest
import requests
from django.test import Client

from . import genomic_data
from .conftest import release, store_ready_file, token_client

pytestmark = [pytest.mark.s3, pytest.mark.django_db]


def _http(headers: dict) -> dict:
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


def test_ticket_with_presigned_s3_blocks_and_api_stream(s3_env, steward, dac, applicant, client_keys, tmp_path):
    from gdi_archive import storage

    for store in (storage.archive_store(), storage.inbox_store(), storage.outbox_store()):
        store.ensure_ready()
    bam = genomic_data.make_bam(tmp_path, reads_per_ref=3000)
    data = store_ready_file(submitter=steward, path=bam)
    store_ready_file(submitter=steward, path=bam.with_name(bam.name + ".bai"), index_of=data)
    dataset = release(dac=dac, steward=steward, files=[data])
    client = token_client(applicant, [dataset])

    ticket = client.get(
        f"/htsget/reads/{data.accession}",
        {"encryptionScheme": "C4GH", "referenceName": "chr1", "start": 100_000, "end": 300_000},
        HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
    ).json()
    parts, presigned = [], 0
    for block in ticket["htsget"]["urls"]:
        if block["url"].startswith("data:"):
            parts.append(base64.b64decode(block["url"].split(",", 1)[1]))
            continue
        # The ticket points at the archive (never straight at the store): each request re-checks
        # the grant, then redirects to a presigned URL made for exactly the Range asked for.
        assert block["url"].startswith("http://testserver/api/blocks/")
        assert "X-Amz-" not in block["url"]
        hop = Client().get(block["url"].removeprefix("http://testserver"), **_http(block.get("headers", {})))
        assert hop.status_code == 307, hop.content[:300]
        assert hop["Location"].startswith(s3_env["S3_ENDPOINT_URL"])
        presigned += 1
        response = requests.get(hop["Location"], headers=block.get("headers", {}), timeout=30)
        assert response.status_code == 206, response.text[:300]
        parts.append(response.content)
        last = (hop["Location"], block)
    assert presigned
    out = tmp_path / "region.bam"
    out.write_bytes(client_keys.decrypt(b"".join(parts)))
    expected = genomic_data.reads_in(bam, "chr1", 100_000, 300_000)
    assert expected and genomic_data.reads_in(out, "chr1", 100_000, 300_000) == expected
    # The Range is part of the signature (X-Amz-SignedHeaders): the store refuses another range.
    location, block = last
    assert "range" in location.split("X-Amz-SignedHeaders=", 1)[1].split("&", 1)[0]
    assert requests.get(location, headers={"Range": "bytes=0-"}, timeout=30).status_code == 403

    response = client.get(
        f"/api/files/{data.accession}",
        {"start": 70_000, "end": 200_000},
        HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
    )
    assert response.status_code == 200
    assert client_keys.decrypt(b"".join(response.streaming_content)) == bam.read_bytes()[70_000:200_000]


def test_unreachable_store_is_a_clean_503_before_any_byte(
    s3_env, steward, dac, applicant, client_keys, tmp_path, settings
):
    """The store is asked before the status line: never a 200 that is cut after the header."""
    import os
    import socket

    from gdi_archive import storage

    assert set(storage.ensure_stores_ready().values()) == {"ok"}
    path = tmp_path / "plain.bin"
    path.write_bytes(os.urandom(100_000))
    data = store_ready_file(submitter=steward, path=path)
    client = token_client(applicant, [release(dac=dac, steward=steward, files=[data])])

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for path_ in (f"/api/files/{data.accession}", f"/api/files/{data.accession}/content"):
        response = client.get(path_, HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value)
        assert response.status_code == 503, path_
        assert response.json()["error"] == "StorageUnavailable"
        assert response["Retry-After"]


def test_a_missing_stored_body_is_a_clean_error(steward, dac, applicant, client_keys, tmp_path):
    import os

    from gdi_archive import storage

    path = tmp_path / "plain.bin"
    path.write_bytes(os.urandom(100_000))
    data = store_ready_file(submitter=steward, path=path)
    client = token_client(applicant, [release(dac=dac, steward=steward, files=[data])])
    storage.archive_store().delete(data.location)
    response = client.get(f"/api/files/{data.accession}/content")
    assert response.status_code == 500
    assert response.json() == {
        "error": "InternalError",
        "detail": "This file cannot be read from the archive just now; the operators have been alerted.",
    }

"""`/api/files/{acc}`: Crypt4GH streams the crypt4gh tool decrypts to exactly the asked bytes."""

import base64

import pytest

from gdi_archive.audit.models import AuditEvent

from .conftest import ClientKeyPair, token_client

pytestmark = pytest.mark.django_db

SEG = 65536


def get_stream(client, acc, keys, **params):
    return client.get(f"/api/files/{acc}", params, HTTP_X_C4GH_PUBLIC_KEY=keys.header_value)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_whole_file_decrypts_to_the_original(stored, applicant, client_keys):
    client = token_client(applicant, [stored["dataset"]])
    response = get_stream(client, stored["file"].accession, client_keys)
    assert response.status_code == 200
    data = body_of(response)
    assert int(response["Content-Length"]) == len(data)
    assert client_keys.decrypt(data) == stored["plain"]
    event = AuditEvent.objects.filter(action="download.file").last()
    assert event.target_id == stored["file"].accession and event.actor_name == applicant.username
    assert event.details["bytes"] == len(data)


@pytest.mark.parametrize(
    "start,end",
    [
        (0, 1),  # the first byte
        (SEG - 10, SEG + 10),  # across the first segment boundary
        (100000, 150000),
        (SEG, 2 * SEG),  # exactly one whole segment
        (5, 3 * SEG + 7000),  # several segments
        (3 * SEG + 7122, 3 * SEG + 7123),  # the last byte
        (1000, 1000),  # empty
        (3 * SEG, None),  # to the end
        (0, 10**9),  # end past the size is clamped
    ],
)
def test_ranges_decrypt_to_exactly_those_bytes(stored, applicant, client_keys, start, end):
    client = token_client(applicant, [stored["dataset"]])
    params = {"start": start} if end is None else {"start": start, "end": end}
    response = get_stream(client, stored["file"].accession, client_keys, **params)
    assert response.status_code == 200, body_of(response)
    data = body_of(response)
    assert client_keys.decrypt(data) == stored["plain"][start:end]
    # Only the segments that cover the range are sent.
    if end is not None and end > start:
        segments = (min(end, len(stored["plain"])) - 1) // SEG - start // SEG + 1
        assert len(data) <= 16 + 108 + 76 + 16 + segments * (SEG + 28)


def test_start_past_the_end_is_416(stored, applicant, client_keys):
    client = token_client(applicant, [stored["dataset"]])
    response = get_stream(
        client, stored["file"].accession, client_keys, start=len(stored["plain"]) + 1, end=len(stored["plain"]) + 5
    )
    assert response.status_code == 416
    assert response.json()["error"] == "RangeNotSatisfiable"


@pytest.mark.parametrize("params", [{"start": "-1"}, {"start": "x"}, {"start": 10, "end": 5}])
def test_bad_offsets_are_400(stored, applicant, client_keys, params):
    client = token_client(applicant, [stored["dataset"]])
    response = get_stream(client, stored["file"].accession, client_keys, **params)
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidInput"


def test_header_is_the_same_bytes_every_time_and_resumes(stored, applicant, client_keys):
    """An interrupted download resumed with Range/If-Range yields one valid stream."""
    client = token_client(applicant, [stored["dataset"]])
    acc = stored["file"].accession
    first = get_stream(client, acc, client_keys, start=70000, end=200000)
    full = body_of(first)
    etag = first["ETag"]
    cut = 150  # inside the header
    resumed = client.get(
        f"/api/files/{acc}",
        {"start": 70000, "end": 200000},
        HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
        HTTP_RANGE=f"bytes={cut}-",
        HTTP_IF_RANGE=etag,
    )
    assert resumed.status_code == 206
    assert resumed["Content-Range"] == f"bytes {cut}-{len(full) - 1}/{len(full)}"
    assert resumed["ETag"] == etag
    joined = full[:cut] + body_of(resumed)
    assert joined == full
    assert client_keys.decrypt(joined) == stored["plain"][70000:200000]
    # A stale validator gets the whole stream again (200), not a mismatched piece.
    stale = client.get(
        f"/api/files/{acc}",
        {"start": 70000, "end": 200000},
        HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
        HTTP_RANGE=f"bytes={cut}-",
        HTTP_IF_RANGE='"something-else"',
    )
    assert stale.status_code == 200 and body_of(stale) == full
    # The header endpoint gives the same header.
    header = client.get(
        f"/api/files/{acc}/header", {"start": 70000, "end": 200000}, HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value
    )
    assert header.status_code == 200 and full.startswith(header.content)


def test_header_plus_content_is_a_valid_stream_and_content_resumes(stored, applicant, client_keys):
    client = token_client(applicant, [stored["dataset"]])
    acc = stored["file"].accession
    header = client.get(f"/api/files/{acc}/header", HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value).content
    content = client.get(f"/api/files/{acc}/content")
    assert content.status_code == 200
    body = body_of(content)
    assert client_keys.decrypt(header + body) == stored["plain"]
    part = client.get(f"/api/files/{acc}/content", HTTP_RANGE="bytes=65564-", HTTP_IF_RANGE=content["ETag"])
    assert part.status_code == 206 and body_of(part) == body[65564:]
    tail = client.get(f"/api/files/{acc}/content", HTTP_RANGE="bytes=-100")
    assert tail.status_code == 206 and body_of(tail) == body[-100:]
    beyond = client.get(f"/api/files/{acc}/content", HTTP_RANGE=f"bytes={len(body)}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(body)}"


def test_registered_key_is_used_when_none_is_sent(stored, applicant, client_keys):
    from gdi_archive.accounts.models import PublicKey

    PublicKey.objects.create(
        user=applicant, key=base64.b64encode(client_keys.raw).decode(), fingerprint=client_keys.raw.hex()
    )
    client = token_client(applicant, [stored["dataset"]])
    response = client.get(f"/api/files/{stored['file'].accession}", {"start": 10, "end": 20})
    assert response.status_code == 200
    assert client_keys.decrypt(body_of(response)) == stored["plain"][10:20]


def test_same_key_in_two_headers_is_one_key(stored, applicant, client_keys):
    client = token_client(applicant, [stored["dataset"]])
    response = client.get(
        f"/api/files/{stored['file'].accession}",
        {"start": 0, "end": 5},
        HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
        HTTP_CLIENT_PUBLIC_KEY=base64.b64encode(client_keys.raw).decode(),
    )
    assert response.status_code == 200
    assert client_keys.decrypt(body_of(response)) == stored["plain"][:5]


def test_two_different_keys_are_400(stored, applicant, client_keys, tmp_path):
    other = ClientKeyPair(tmp_path, "other")
    client = token_client(applicant, [stored["dataset"]])
    response = client.get(
        f"/api/files/{stored['file'].accession}",
        HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
        HTTP_HTSGET_CONTEXT_PUBLIC_KEY=other.header_value,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidInput" and "two different" in response.json()["detail"]


def test_no_key_is_400(stored, applicant):
    client = token_client(applicant, [stored["dataset"]])
    response = client.get(f"/api/files/{stored['file'].accession}")
    assert response.status_code == 400
    assert "public key is needed" in response.json()["detail"]


@pytest.mark.parametrize(
    "value", ["not a key", base64.b64encode(b"short").decode(), base64.b64encode(bytes(32)).decode()]
)
def test_malformed_key_is_400(stored, applicant, value):
    client = token_client(applicant, [stored["dataset"]])
    response = client.get(f"/api/files/{stored['file'].accession}", HTTP_X_C4GH_PUBLIC_KEY=value)
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidInput"
    assert not AuditEvent.objects.filter(action="download.file").exists()

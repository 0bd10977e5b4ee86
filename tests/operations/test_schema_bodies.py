"""/api/schema describes the bodies of the API, and the archive's real answers match it.

The first test pins the contract of design.md sections 4 and 6 in the schema (field names,
status codes); the second walks a dataset's life through the HTTP API (tokens, catalogue,
access, downloads, exports, errors) and checks every answer against the schema, with data in
the database, which the fuzz test (an empty archive) cannot do."""

import base64
import io
import json
import os

import pytest
import requests
import schemathesis
from crypt4gh import lib as c4gh_lib
from django.test import Client

from tests.conftest import PASSWORD
from tests.downloads.conftest import ClientKeyPair, store_ready_file
from tests.downloads.genomic_data import make_bam

ERROR = {"error", "detail"}
# (method, path, status, properties the answer has, whether it is a list of them)
ANSWERS = [
    ("post", "/api/tokens", "201", {"token", "token_type", "expires_at"}, False),
    (
        "get",
        "/api/inbox",
        "200",
        {"name", "status", "bytes_done", "bytes_total", "error", "accession", "sha256", "index_of"},
        True,
    ),
    (
        "put",
        "/api/inbox/{name}",
        "201",
        {"name", "status", "bytes_done", "bytes_total", "accession", "sha256", "index_of"},
        False,
    ),
    ("get", "/api/dacs", "200", {"accession", "name", "members"}, True),
    ("post", "/api/dacs", "201", {"accession", "name", "description", "contact_email"}, False),
    ("post", "/api/dacs/{accession}/members", "201", {"accession", "members"}, False),
    ("get", "/api/datasets", "200", {"accession", "title", "file_count", "size"}, True),
    ("post", "/api/datasets", "201", {"accession", "status", "title", "dac", "duo", "max_access_days", "files"}, False),
    (
        "get",
        "/api/datasets/{accession}/files",
        "200",
        {"accession", "name", "size", "sha256", "format", "has_index"},
        True,
    ),
    ("post", "/api/datasets/{accession}/files", "200", {"accession", "status", "files"}, False),
    ("post", "/api/datasets/{accession}/release", "200", {"accession", "status"}, False),
    ("get", "/api/access-requests", "200", {"id", "status", "datasets", "title", "purpose", "entitlements"}, True),
    (
        "post",
        "/api/access-requests",
        "201",
        {"id", "status", "datasets", "title", "purpose", "institution", "duo"},
        False,
    ),
    (
        "post",
        "/api/access-requests/{id}/approve",
        "200",
        {"id", "status", "entitlements", "approvals", "events"},
        False,
    ),
    ("get", "/api/entitlements", "200", {"id", "dataset", "start", "end", "status"}, True),
    ("post", "/api/entitlements/{id}/revoke", "200", {"id", "status"}, False),
    ("get", "/api/permissions/{username}", "200", {"ga4gh_passport_v1"}, False),
    ("post", "/api/exports", "202", {"id", "status"}, False),
    (
        "get",
        "/api/exports/{export_id}",
        "200",
        {"id", "status", "bytes_done", "bytes_total", "progress", "links"},
        False,
    ),
    ("get", "/htsget/reads/{accession}", "200", {"htsget"}, False),
    ("get", "/htsget/reads/{accession}", "404", {"htsget"}, False),
    (
        "get",
        "/ga4gh/drs/v1/objects/{object_id}",
        "200",
        {"id", "self_uri", "size", "checksums", "access_methods"},
        False,
    ),
    ("get", "/ga4gh/drs/v1/objects/{object_id}/access/{access_id}", "200", {"url"}, False),
    ("get", "/ga4gh/drs/v1/service-info", "200", {"id", "name", "type", "organization", "version"}, False),
    ("get", "/service-info", "200", {"id", "name", "type", "organization", "version"}, False),
    ("get", "/health/ready", "503", {"status", "checks"}, False),
    ("get", "/.well-known/jwks.json", "200", {"keys"}, False),
]
# Errors with the {"error", "detail"} body.
ERRORS = [
    ("get", "/api/files/{accession}", "404"),
    ("get", "/api/files/{accession}", "400"),
    ("get", "/api/files/{accession}", "416"),
    ("post", "/api/access-requests/{id}/approve", "409"),
    ("post", "/api/access-requests/{id}/approve", "403"),
    ("post", "/api/datasets", "403"),
    ("put", "/api/inbox/{name}", "507"),
    ("post", "/api/tokens", "429"),
    ("get", "/api/exports/{export_id}", "404"),
]
BODIES = [
    ("post", "/api/tokens", {"lifetime"}),
    ("post", "/api/dacs", {"name", "description", "contact_email"}),
    ("post", "/api/dacs/{accession}/members", {"username"}),
    ("post", "/api/datasets", {"title", "description", "dac", "duo", "terms_url", "terms_text", "max_access_days"}),
    ("post", "/api/datasets/{accession}/files", {"files"}),
    ("post", "/api/access-requests", {"datasets", "title", "purpose", "institution", "duo", "accept_terms"}),
    ("post", "/api/access-requests/{id}/approve", {"end", "comment"}),
    ("post", "/api/access-requests/{id}/reject", {"reason"}),
    ("post", "/api/access-requests/{id}/return", {"comment"}),
    ("post", "/api/entitlements/{id}/revoke", {"reason"}),
    ("post", "/api/exports", {"files", "dataset"}),
    ("post", "/htsget/reads/{accession}", {"regions", "format", "encryptionScheme"}),
]


def _schema() -> dict:
    response = Client().get("/api/schema", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _answer_schema(schema: dict, method: str, path: str, status: str) -> dict:
    responses = schema["paths"][path][method]["responses"]
    assert status in responses, f"{method.upper()} {path}: no {status} in {sorted(responses)}"
    content = responses[status].get("content", {})
    assert "application/json" in content, f"{method.upper()} {path} {status}: no JSON body described"
    return _resolve(schema, content["application/json"]["schema"])


def test_the_schema_describes_the_bodies_of_the_main_operations():
    schema = _schema()
    for method, path, status, properties, many in ANSWERS:
        body = _answer_schema(schema, method, path, status)
        if many:
            assert body["type"] == "array", (method, path)
            body = _resolve(schema, body["items"])
        missing = properties - set(body.get("properties", {}))
        assert not missing, f"{method.upper()} {path} {status} lacks {missing}"
    for method, path, status in ERRORS:
        body = _answer_schema(schema, method, path, status)
        assert set(body["properties"]) == ERROR and set(body["required"]) == ERROR, (method, path, status)
    for method, path, fields in BODIES:
        content = schema["paths"][path][method].get("requestBody", {}).get("content", {})
        assert "application/json" in content, f"{method.upper()} {path}: no request body described"
        missing = fields - set(_resolve(schema, content["application/json"]["schema"])["properties"])
        assert not missing, f"{method.upper()} {path} body lacks {missing}"
    upload = schema["paths"]["/api/inbox/{name}"]["put"]["requestBody"]["content"]
    assert upload["application/octet-stream"]["schema"] == {"type": "string", "format": "binary"}
    assert "text/plain" in schema["paths"]["/api/archive-key"]["get"]["responses"]["200"]["content"]
    token_type = _resolve(schema, _answer_schema(schema, "post", "/api/tokens", "201")["properties"]["token_type"])
    assert token_type.get("enum") == ["Bearer"]
    htsget_error = _resolve(
        schema, _answer_schema(schema, "get", "/htsget/reads/{accession}", "401")["properties"]["htsget"]
    )
    assert set(htsget_error["properties"]) == {"error", "message"}
    drs_error = _answer_schema(schema, "get", "/ga4gh/drs/v1/objects/{object_id}", "404")
    assert set(drs_error["properties"]) == {"msg", "status_code"}
    request = _answer_schema(schema, "get", "/api/access-requests/{id}", "200")["properties"]
    assert set(_resolve(schema, request["events"]["items"])["properties"]) == {"id", "at", "kind", "actor", "comment"}
    assert set(_resolve(schema, request["entitlements"]["items"])["properties"]) >= {
        "id",
        "dataset",
        "start",
        "end",
        "status",
    }
    dataset = _answer_schema(schema, "post", "/api/datasets/{accession}/files", "200")["properties"]
    assert set(_resolve(schema, dataset["files"]["items"])["properties"]) == {
        "accession",
        "name",
        "size",
        "sha256",
        "format",
        "has_index",
    }
    inbox_status = _resolve(schema, _answer_schema(schema, "get", "/api/inbox", "200")["items"])["properties"]["status"]
    assert set(_resolve(schema, inbox_status)["enum"]) == {"uploaded", "verifying", "archiving", "ready", "error"}


class Checked:
    """Calls the live server and checks each answer against /api/schema (status and body)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.schema = schemathesis.openapi.from_url(base_url + "/api/schema?format=json")
        self.checked = set()

    def __call__(self, method, template, status, *, path_args=None, **kwargs):
        url = self.base_url + template.format(**(path_args or {}))
        response = requests.request(method, url, timeout=30, **kwargs)
        assert response.status_code == status, (method, template, response.status_code, response.text[:500])
        self.schema[template][method.upper()].validate_response(response)
        self.checked.add((method, template, status))
        return response


def _bearer(token: str, **extra) -> dict:
    return {"Authorization": f"Bearer {token}", **extra}


@pytest.mark.slow
def test_real_answers_match_the_schema(live_server, steward, dac_member, applicant, admin_user, tmp_path):
    from gdi_archive.catalogue.models import File

    call = Checked(live_server.url)
    basic = {
        "steward": ("sam", PASSWORD),
        "member": ("carol", PASSWORD),
        "applicant": ("alice", PASSWORD),
        "operator": ("root", PASSWORD),
    }
    tokens = {
        who: call("post", "/api/tokens", 201, auth=auth, json={"lifetime": 3600}).json()["token"]
        for who, auth in basic.items()
    }

    dac = call("post", "/api/dacs", 201, headers=_bearer(tokens["steward"]), json={"name": "Schema DAC"}).json()
    # Separation of duties: the steward may not seat members; an operator may.
    call(
        "post",
        "/api/dacs/{accession}/members",
        403,
        path_args={"accession": dac["accession"]},
        headers=_bearer(tokens["steward"]),
        json={"username": "carol"},
    )
    call(
        "post",
        "/api/dacs/{accession}/members",
        201,
        path_args={"accession": dac["accession"]},
        headers=_bearer(tokens["operator"]),
        json={"username": "carol"},
    )
    call("get", "/api/dacs", 200, headers=_bearer(tokens["steward"]))
    call(
        "post", "/api/datasets", 403, headers=_bearer(tokens["applicant"]), json={"title": "x", "dac": dac["accession"]}
    )
    dataset = call(
        "post",
        "/api/datasets",
        201,
        headers=_bearer(tokens["steward"]),
        json={"title": "Schema genomes", "dac": dac["accession"], "duo": ["DUO:0000042"], "max_access_days": 30},
    ).json()
    assert dataset["status"] == "draft" and dataset["released_at"] is None and dataset["max_access_days"] == 30

    plain = tmp_path / "reads.bin"
    plain.write_bytes(b"ACGT" * 20000)
    encrypted = io.BytesIO()
    archive_key = call("get", "/api/archive-key", 200).text
    from gdi_archive.crypt4gh.keys import parse_public_key

    c4gh_lib.encrypt([(0, os.urandom(32), parse_public_key(archive_key))], io.BytesIO(plain.read_bytes()), encrypted)
    upload = call(
        "put",
        "/api/inbox/{name}",
        201,
        path_args={"name": "reads.bin.c4gh"},
        headers=_bearer(tokens["steward"]),
        data=encrypted.getvalue(),
    ).json()
    assert upload["name"] == "reads.bin.c4gh" and upload["bytes_total"] == len(encrypted.getvalue())
    call(
        "put",
        "/api/inbox/{name}",
        409,
        path_args={"name": "reads.bin.c4gh"},
        headers=_bearer(tokens["steward"]),
        data=encrypted.getvalue(),
    )
    inbox = call("get", "/api/inbox", 200, headers=_bearer(tokens["steward"])).json()
    assert inbox[0]["status"] == "ready" and inbox[0]["index_of"] is None, inbox
    file = File.objects.get(accession=inbox[0]["accession"])
    bam = store_ready_file(submitter=steward, path=make_bam(tmp_path, reads_per_ref=100, unmapped=2), fmt="BAM")
    on_dataset = {"accession": dataset["accession"]}
    call(
        "post",
        "/api/datasets/{accession}/files",
        200,
        path_args=on_dataset,
        headers=_bearer(tokens["steward"]),
        json={"files": [file.accession, bam.accession]},
    )
    released = call(
        "post", "/api/datasets/{accession}/release", 200, path_args=on_dataset, headers=_bearer(tokens["steward"])
    )
    assert released.json()["status"] == "released"

    request = call(
        "post",
        "/api/access-requests",
        201,
        headers=_bearer(tokens["applicant"]),
        json={"datasets": [dataset["accession"]], "title": "Burden", "purpose": "Find variants.", "accept_terms": True},
    ).json()
    on_request = {"id": request["id"]}
    call("post", "/api/access-requests/{id}/submit", 200, path_args=on_request, headers=_bearer(tokens["applicant"]))
    call("post", "/api/access-requests/{id}/approve", 403, path_args=on_request, headers=_bearer(tokens["applicant"]))
    approved = call(
        "post",
        "/api/access-requests/{id}/approve",
        200,
        path_args=on_request,
        headers=_bearer(tokens["member"]),
        json={"comment": "Fine."},
    ).json()
    assert approved["status"] == "approved" and approved["entitlements"][0]["revoked_by"] is None
    call("post", "/api/access-requests/{id}/approve", 409, path_args=on_request, headers=_bearer(tokens["member"]))
    call("get", "/api/access-requests", 200, headers=_bearer(tokens["applicant"]))
    second = call(
        "post",
        "/api/access-requests",
        201,
        headers=_bearer(tokens["applicant"]),
        json={"datasets": [dataset["accession"]], "title": "Again", "purpose": "More.", "accept_terms": True},
    ).json()
    call(
        "post",
        "/api/access-requests/{id}/withdraw",
        200,
        path_args={"id": second["id"]},
        headers=_bearer(tokens["applicant"]),
    )
    call("get", "/api/access-requests/{id}", 200, path_args=on_request, headers=_bearer(tokens["member"]))
    call("get", "/api/entitlements", 200, headers=_bearer(tokens["member"]))
    call("get", "/api/permissions/{username}", 200, path_args={"username": "alice"}, auth=basic["applicant"])

    # A token minted now carries the visa for the new entitlement.
    reader = call("post", "/api/tokens", 201, auth=basic["applicant"], json={}).json()["token"]
    key = ClientKeyPair(tmp_path)
    with_key = _bearer(reader, **{"X-C4GH-Public-Key": key.header_value})
    on_file = {"accession": file.accession}
    call("get", "/api/datasets", 200, headers=_bearer(reader))
    call("get", "/api/datasets/{accession}/files", 200, path_args=on_dataset, headers=_bearer(reader))
    stream = call(
        "get", "/api/files/{accession}", 200, path_args=on_file, headers=with_key, params={"start": 10, "end": 20}
    )
    assert key.decrypt(stream.content) == plain.read_bytes()[10:20]
    call("get", "/api/files/{accession}/header", 200, path_args=on_file, headers=with_key)
    call("get", "/api/files/{accession}/content", 206, path_args=on_file, headers={**with_key, "Range": "bytes=0-9"})
    call(
        "get",
        "/api/files/{accession}",
        400,
        path_args=on_file,
        headers=_bearer(reader, **{"X-C4GH-Public-Key": "bm9wZQ=="}),
    )
    call("get", "/api/files/{accession}", 416, path_args=on_file, headers=with_key, params={"start": 10**9})
    call("get", "/api/files/{accession}", 404, path_args={"accession": "GDIF99999999999"}, headers=with_key)
    call(
        "get",
        "/ga4gh/drs/v1/objects/{object_id}",
        200,
        path_args={"object_id": file.accession},
        headers=_bearer(reader),
    )
    call(
        "get",
        "/ga4gh/drs/v1/objects/{object_id}",
        404,
        path_args={"object_id": "GDIF99999999999"},
        headers=_bearer(reader),
    )
    call("get", "/ga4gh/drs/v1/objects/{object_id}", 401, path_args={"object_id": file.accession})
    call(
        "get",
        "/ga4gh/drs/v1/objects/{object_id}/access/{access_id}",
        200,
        path_args={"object_id": file.accession, "access_id": "c4gh"},
        headers=with_key,
    )
    call(
        "get",
        "/htsget/reads/{accession}",
        404,
        path_args=on_file,
        headers=with_key,
        params={"encryptionScheme": "C4GH"},
    )
    call("get", "/htsget/reads/{accession}", 401, path_args=on_file)
    on_bam = {"accession": bam.accession}
    ticket = call(
        "get",
        "/htsget/reads/{accession}",
        200,
        path_args=on_bam,
        headers=with_key,
        params={"encryptionScheme": "C4GH", "referenceName": "chr1", "start": 0, "end": 100000},
    ).json()
    assert ticket["htsget"]["format"] == "BAM" and ticket["htsget"]["urls"][0]["class"] == "header"
    call(
        "post",
        "/htsget/reads/{accession}",
        200,
        path_args=on_bam,
        headers=with_key,
        json={"encryptionScheme": "C4GH", "format": "BAM"},
    )
    call("get", "/htsget/reads/{accession}", 400, path_args=on_bam, headers=_bearer(reader))
    call(
        "post",
        "/htsget/variants/{accession}",
        400,
        path_args=on_file,
        headers=with_key,
        data=b"[1]",
        params={"encryptionScheme": "C4GH"},
    )

    export = call("post", "/api/exports", 202, headers=with_key, json={"files": [file.accession]}).json()
    detail = call(
        "get", "/api/exports/{export_id}", 200, path_args={"export_id": export["id"]}, headers=_bearer(reader)
    ).json()
    assert detail["id"] == export["id"] and detail["files"] == [file.accession]
    call("post", "/api/exports", 400, headers=with_key, json={})
    call("get", "/api/exports/{export_id}", 404, path_args={"export_id": "not-an-export"}, headers=_bearer(reader))

    entitlement = approved["entitlements"][0]["id"]
    revoked = call(
        "post",
        "/api/entitlements/{id}/revoke",
        200,
        path_args={"id": entitlement},
        headers=_bearer(tokens["member"]),
        json={"reason": "Study over."},
    ).json()
    assert revoked["status"] == "revoked" and revoked["revoked_by"] == "carol"

    for path in (
        "/service-info",
        "/health/live",
        "/.well-known/jwks.json",
        "/ga4gh/drs/v1/service-info",
        "/htsget/reads/service-info",
        "/htsget/variants/service-info",
    ):
        call("get", path, 200)
    assert base64.b64decode(key.header_value)  # the key header really was a base64 key file
    assert len(call.checked) >= 40

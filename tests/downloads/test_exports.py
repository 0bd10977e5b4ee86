"""Exports: a real Celery worker writes re-encrypted copies to the outbox; links expire; beat cleans."""

import time
from datetime import timedelta

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from gdi_archive import storage
from gdi_archive.audit.models import AuditEvent
from gdi_archive.downloads.models import Export

from .conftest import release, store_ready_file, token_client


def wait_for(client, export_id, status="done", timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/exports/{export_id}").json()
        if body["status"] in (status, "failed"):
            return body
        time.sleep(0.3)
    raise AssertionError(f"export still {body['status']}")


@pytest.mark.worker
def test_worker_exports_a_dataset_that_decrypts(
    celery_worker_process, steward, dac, applicant, other_applicant, client_keys, tmp_path
):
    import os

    plains = [os.urandom(200_000), os.urandom(70_000)]
    files = []
    for number, plain in enumerate(plains):
        path = tmp_path / f"part{number}.bin"
        path.write_bytes(plain)
        files.append(store_ready_file(submitter=steward, path=path))
    dataset = release(dac=dac, steward=steward, files=files)
    client = token_client(applicant, [dataset])
    response = client.post(
        "/api/exports", {"dataset": dataset.accession}, format="json", HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value
    )
    assert response.status_code == 202, response.content
    assert set(response.json()) == {"id", "status"} and response.json()["status"] == "queued"
    body = wait_for(client, response.json()["id"])
    assert body["status"] == "done", (body, celery_worker_process.log()[-3000:])
    assert body["bytes_done"] == body["bytes_total"] > 270_000
    assert len(body["links"]) == 2
    for link, plain in zip(body["links"], plains, strict=True):
        data = Client().get(link["url"].removeprefix("http://testserver"))
        assert data.status_code == 200
        assert client_keys.decrypt(b"".join(data.streaming_content)) == plain
    assert AuditEvent.objects.filter(action="download.export").count() == 2
    # Someone else cannot see it.
    assert token_client(other_applicant, [dataset]).get(f"/api/exports/{body['id']}").status_code == 404


@pytest.mark.django_db
def test_export_needs_access_and_a_key(stored, applicant, other_applicant, client_keys):
    acc = stored["file"].accession
    stranger = token_client(other_applicant, [])
    response = stranger.post(
        "/api/exports", {"files": [acc]}, format="json", HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value
    )
    assert response.status_code == 404
    client = token_client(applicant, [stored["dataset"]])
    assert client.post("/api/exports", {"files": [acc]}, format="json").status_code == 400
    assert (
        client.post("/api/exports", {}, format="json", HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value).status_code
        == 400
    )
    assert (
        client.post(
            "/api/exports",
            {"files": [acc], "dataset": stored["dataset"].accession},
            format="json",
            HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
        ).status_code
        == 400
    )
    assert not Export.objects.exists()
    assert Client().post("/api/exports", {"files": [acc]}, content_type="application/json").status_code in (401, 403)


@pytest.mark.django_db
def test_expired_exports_are_cleaned_from_the_outbox(stored, applicant, client_keys):
    """Runs the export in-process (eager), then the beat task after the links expired."""
    from gdi_archive.downloads.tasks import clean_outbox

    client = token_client(applicant, [stored["dataset"]])
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            "/api/exports",
            {"files": [stored["file"].accession]},
            format="json",
            HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
        )
    body = client.get(f"/api/exports/{response.json()['id']}").json()
    assert body["status"] == "done"
    link = body["links"][0]["url"].removeprefix("http://testserver")
    # A request that no longer grants the dataset gets no links.
    ungranted = token_client(applicant, [])
    assert ungranted.get(f"/api/exports/{body['id']}").json()["links"] == []
    export = Export.objects.get()
    location = export.items.get().location
    assert storage.outbox_store().exists(location)
    clean_outbox.delay()
    assert storage.outbox_store().exists(location)  # not expired yet
    Export.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    clean_outbox.delay()
    assert not storage.outbox_store().exists(location)
    assert client.get(f"/api/exports/{export.id}").json()["status"] == "expired"
    assert Client().get(link).status_code == 404


def _export_link(client, stored, client_keys) -> str:
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            "/api/exports",
            {"files": [stored["file"].accession]},
            format="json",
            HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
        )
    assert response.status_code == 202, response.content
    body = client.get(f"/api/exports/{response.json()['id']}").json()
    assert body["status"] == "done", body
    return body["links"][0]["url"].removeprefix("http://testserver")


@pytest.mark.django_db
def test_revoking_the_entitlement_stops_an_export_link_at_once(stored, applicant, dac_member, client_keys):
    from gdi_archive.access.services import revoke_entitlement

    from ..conftest import client_for
    from .conftest import entitle

    entitlement = entitle(applicant, stored["dataset"])
    link = _export_link(client_for(applicant), stored, client_keys)
    first = Client().get(link)
    assert first.status_code == 200
    assert client_keys.decrypt(b"".join(first.streaming_content)) == stored["plain"]

    revoke_entitlement(entitlement=entitlement, member=dac_member, reason="Project ended early.")
    refused = Client().get(link)
    assert refused.status_code == 404
    assert refused.json()["error"] == "NotFound"


@pytest.mark.django_db
def test_an_export_link_from_a_brokers_visas_ends_when_the_visas_do(stored, applicant, client_keys):
    from rest_framework.test import APIClient

    from gdi_archive.passports.grants import Grants

    client = APIClient()
    client.force_authenticate(
        user=applicant,
        token=Grants(
            subject=applicant.username,
            issuer="https://broker.example.org",
            datasets=frozenset({stored["dataset"].accession}),
            expires_at=timezone.now() + timedelta(seconds=2),
        ),
    )
    link = _export_link(client, stored, client_keys)
    assert Client().get(link).status_code == 200
    time.sleep(2.1)
    assert Client().get(link).status_code == 404


@pytest.mark.django_db
def test_an_export_whose_worker_died_is_run_again(stored, applicant, client_keys):
    """A worker that comes back (same name) or a stale heartbeat starts the export again; a run
    that is alive elsewhere is left alone. (tests/reliability kills a real worker mid-export.)"""
    from gdi_archive.downloads.tasks import recover_interrupted_exports

    client = token_client(applicant, [stored["dataset"]])
    with TestCase.captureOnCommitCallbacks(execute=False):  # queued; no worker picks it up here
        first = client.post(
            "/api/exports",
            {"files": [stored["file"].accession]},
            format="json",
            HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
        ).json()["id"]
        alive = client.post(
            "/api/exports",
            {"files": [stored["file"].accession]},
            format="json",
            HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
        ).json()["id"]
    now = timezone.now()
    Export.objects.filter(pk=first).update(status=Export.Status.RUNNING, worker="celery@dead", heartbeat_at=now)
    Export.objects.filter(pk=alive).update(status=Export.Status.RUNNING, worker="celery@alive", heartbeat_at=now)

    assert recover_interrupted_exports.delay(dead_worker="celery@dead").get() == [first]
    body = client.get(f"/api/exports/{first}").json()
    assert body["status"] == "done", body
    copy = Client().get(body["links"][0]["url"].removeprefix("http://testserver"))
    assert client_keys.decrypt(b"".join(copy.streaming_content)) == stored["plain"]
    assert Export.objects.get(pk=alive).status == Export.Status.RUNNING

    Export.objects.filter(pk=alive).update(heartbeat_at=now - timedelta(hours=1))
    assert recover_interrupted_exports.delay().get() == [alive]
    assert client.get(f"/api/exports/{alive}").json()["status"] == "done"

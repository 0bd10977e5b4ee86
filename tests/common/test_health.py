import pytest
from django.test import override_settings

from gdi_archive.storage import ensure_stores_ready


@pytest.mark.django_db
def test_ready_reports_a_missing_store_until_it_is_created(client, tmp_path):
    folders = {name: (tmp_path / name).as_uri() for name in ("archive", "inbox", "outbox")}
    with override_settings(STORAGE_URL=folders["archive"], INBOX_URL=folders["inbox"], OUTBOX_URL=folders["outbox"]):
        missing = client.get("/health/ready")
        assert missing.status_code == 503
        assert missing.json()["checks"]["storage.archive"] == "unavailable"
        assert missing.json()["checks"]["database"] == "ok"

        assert ensure_stores_ready() == {"archive": "ok", "inbox": "ok", "outbox": "ok"}
        ready = client.get("/health/ready")
        assert ready.status_code == 200, ready.content
        assert ready.json()["status"] == "ok"


def test_live(client):
    assert client.get("/health/live").json() == {"status": "ok"}


def test_service_info_is_ga4gh_shaped(client):
    info = client.get("/service-info").json()
    for key in ("id", "name", "type", "organization", "version"):
        assert key in info
    assert set(info["type"]) == {"group", "artifact", "version"}


@pytest.mark.django_db
def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"

import pytest


@pytest.mark.django_db
def test_live_and_ready(client):
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.content
    assert ready.json()["checks"]["database"] == "ok"


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

"""Reliability fixtures: fresh archive/inbox/outbox folders per test, passport-token clients,
and archived files made by the real ingest (tests.downloads.conftest.store_ready_file)."""

import base64

import pytest
from django.test import Client

from tests.conftest import PASSWORD, clear_own_cache


@pytest.fixture(autouse=True)
def isolated_stores(tmp_path, monkeypatch):
    """A fresh archive, inbox and outbox folder per test, here and in processes started after this."""
    from django.test import override_settings

    values = {
        "STORAGE_URL": (tmp_path / "archive").as_uri(),
        "INBOX_URL": (tmp_path / "inbox").as_uri(),
        "OUTBOX_URL": (tmp_path / "outbox").as_uri(),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    for name in ("archive", "inbox", "outbox"):
        (tmp_path / name).mkdir(exist_ok=True)
    with override_settings(**values):
        yield values


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Sign-in rate limits and token caches live in the cache: start every test clean.

    Only this run's keys: `cache.clear()` on Redis is FLUSHDB, which would also empty the
    Celery queues and caches of every other test run sharing the Redis database.
    """
    clear_own_cache()
    yield


def basic(user) -> str:
    return "Basic " + base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()


def mint_token(user) -> str:
    """A passport token minted through POST /api/tokens with the user's password, as scripts do."""
    minted = Client().post("/api/tokens", {}, content_type="application/json", HTTP_AUTHORIZATION=basic(user))
    assert minted.status_code == 201, minted.content
    return minted.json()["token"]


def bearer_client(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {mint_token(user)}")

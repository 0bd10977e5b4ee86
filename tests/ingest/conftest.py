"""Helpers for ingest tests: a submitter, encrypting with the real `crypt4gh` tool, uploading."""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import make_user

CRYPT4GH = str(Path(sys.executable).with_name("crypt4gh"))
CRYPT4GH_KEYGEN = str(Path(sys.executable).with_name("crypt4gh-keygen"))


@pytest.fixture(autouse=True)
def isolated_stores(tmp_path, monkeypatch):
    """A fresh archive and inbox folder per test, here and in worker processes started after this."""
    from django.test import override_settings

    values = {"STORAGE_URL": (tmp_path / "archive").as_uri(), "INBOX_URL": (tmp_path / "inbox").as_uri()}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    with override_settings(**values):
        yield values


@pytest.fixture
def submitter(db):
    from django.contrib.auth.models import Group

    user = make_user("sue")
    user.groups.add(Group.objects.get_or_create(name="submitters")[0])
    return user


@pytest.fixture
def archive_pub(tmp_path):
    """The archive's current public key, as a submitter gets it from GET /api/archive-key."""
    from rest_framework.test import APIClient

    response = APIClient().get("/api/archive-key")
    assert response.status_code == 200
    path = tmp_path / "archive.pub"
    path.write_bytes(response.content)
    return path


def encrypt(plain: Path, recipient_pub: Path, out: Path | None = None) -> Path:
    out = out or plain.with_name(plain.name + ".c4gh")
    with open(plain, "rb") as src, open(out, "wb") as dst:
        subprocess.run([CRYPT4GH, "encrypt", "--recipient_pk", str(recipient_pub)], stdin=src, stdout=dst, check=True)
    return out


def decrypt(encrypted: bytes, secret_key: Path, passphrase: str) -> bytes:
    env = {**os.environ, "C4GH_PASSPHRASE": passphrase}
    result = subprocess.run(
        [CRYPT4GH, "decrypt", "--sk", str(secret_key)], input=encrypted, capture_output=True, env=env, check=True
    )
    return result.stdout


def random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as handle:
        left = size
        while left:
            n = min(left, 1 << 20)
            handle.write(os.urandom(n))
            left -= n
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def put(client, name: str, data: bytes, **headers):
    return client.put(f"/api/inbox/{name}", data=data, content_type="application/octet-stream", **headers)


def entry(client, name: str) -> dict:
    response = client.get("/api/inbox")
    assert response.status_code == 200, response.content
    matches = [e for e in response.json() if e["name"] == name]
    assert len(matches) == 1, response.json()
    return matches[0]


def wait_until(client, name: str, statuses=("ready", "error"), timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = entry(client, name)
        if current["status"] in statuses:
            return current
        time.sleep(0.1)
    raise AssertionError(f"{name} did not reach {statuses}: {entry(client, name)}")


def archive_secret_key_file() -> Path:
    """The current archive secret key file (development: generated under KEYS_DIR, newest = current)."""
    from django.conf import settings

    return sorted(Path(settings.KEYS_DIR).glob("c4gh-archive-*.sec"))[-1]


def archive_passphrase() -> str:
    from django.conf import settings

    return settings.C4GH_PASSPHRASE

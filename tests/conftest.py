"""Shared fixtures: personas, API clients, a real Celery worker process and a real S3 server (SeaweedFS)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"
PASSWORD = "correct-horse-battery-staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing is listening on 127.0.0.1:{port}")


# --- personas ---------------------------------------------------------------------------------


def make_user(username: str, **extra):
    from gdi_archive.accounts.models import User

    return User.objects.create_user(username=username, password=PASSWORD, email=f"{username}@example.org", **extra)


@pytest.fixture
def applicant(db):
    return make_user("alice")


@pytest.fixture
def other_applicant(db):
    return make_user("bob")


@pytest.fixture
def dac(db):
    from gdi_archive.catalogue.models import DAC

    return DAC.objects.create(name="Rare Disease DAC", contact_email="dac@example.org")


@pytest.fixture
def other_dac(db):
    from gdi_archive.catalogue.models import DAC

    return DAC.objects.create(name="Cancer DAC", contact_email="cancer-dac@example.org")


@pytest.fixture
def dac_member(db, dac):
    member = make_user("carol", is_staff=True)
    dac.members.add(member)
    return member


@pytest.fixture
def other_dac_member(db, other_dac):
    member = make_user("dave", is_staff=True)
    other_dac.members.add(member)
    return member


@pytest.fixture
def steward(db):
    from django.contrib.auth.models import Group

    from gdi_archive.accounts.models import STEWARDS_GROUP

    user = make_user("sam", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=STEWARDS_GROUP)[0])
    return user


@pytest.fixture
def admin_user(db):
    from gdi_archive.accounts.models import User

    return User.objects.create_superuser("root", "root@example.org", PASSWORD)


@pytest.fixture
def api():
    """An API client; `api.force_authenticate(user)` or `api.credentials(HTTP_AUTHORIZATION=...)`."""
    return APIClient()


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def clear_own_cache() -> None:
    """Empty this run's cache keys only: `cache.clear()` on Redis is FLUSHDB, which would also
    empty the Celery queues and caches of every other test run sharing the Redis database."""
    from django.core.cache import cache

    prefix = settings.CACHES["default"].get("KEY_PREFIX")
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache") and prefix:
        client = cache._cache.get_client(None)
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)
    else:
        cache.clear()


# --- a real Celery worker -----------------------------------------------------------------------


class WorkerProcess:
    """A `celery worker` process on the test database and the test Redis prefix."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict:
        env = os.environ.copy()
        name = connection.settings_dict["NAME"]
        env.update(
            DJANGO_SETTINGS_MODULE="gdi_archive.settings",
            DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{name}",
            CELERY_TASK_ALWAYS_EAGER="false",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "gdi_archive",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "--pool=prefork",
                "-Q",
                settings.CELERY_WORKER_QUEUES,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{os.getpid()}@%h",
            ],
            cwd=REPO,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b" ready." in self.log_path.read_bytes():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("Celery worker did not start:\n" + self.log_path.read_text()[-4000:])

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash or an OOM kill would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """Tasks go through Redis to a real worker process; yields the WorkerProcess."""
    from gdi_archive.celery import app

    worker = WorkerProcess(tmp_path / "worker.log")
    app.conf.task_always_eager = False
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        app.conf.task_always_eager = True


# --- a real S3 server (SeaweedFS, which checks signatures) ---------------------------------------


@pytest.fixture(scope="session")
def s3_server():
    """Endpoint URL of one SeaweedFS S3 gateway on 127.0.0.1 for the whole run (tests/seaweedfs.py);
    access key and secret are both "testing"."""
    from tests.seaweedfs import SeaweedFS

    with SeaweedFS() as server:
        yield server.endpoint


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """Point the archive, inbox and outbox at fresh S3 buckets, here and in worker processes."""
    import uuid

    from django.test import override_settings

    run = uuid.uuid4().hex[:10]
    values = {
        "STORAGE_URL": f"s3://archive-{run}",
        "INBOX_URL": f"s3://inbox-{run}",
        "OUTBOX_URL": f"s3://outbox-{run}",
        "S3_ENDPOINT_URL": s3_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    with override_settings(**values):
        yield values

"""The production-like stack for fault tests, on services this test owns and may break.

It reuses tests/stack's `Stack` (secrets generated the operator's way, gunicorn with
deploy/gunicorn.conf.py, a Celery worker and beat, ENVIRONMENT=production, S3 buckets) but
points it at:
- a throw-away PostgreSQL cluster (initdb + pg_ctl on a free port), because the machine's shared
  cluster must never be restarted by a test;
- a throw-away redis-server (append-only file on, as deploy/compose.yaml runs it);
- the session's SeaweedFS S3 gateway through a TCP proxy that can be cut, to make the object store
  unreachable without stopping a server other tests use.
"""

import glob
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import requests
from crypt4gh import lib as c4gh_lib

from tests.conftest import free_port, wait_for_port
from tests.stack.test_production_stack import BIN, PASSWORD, REPO, Stack

__all__ = ["PASSWORD", "REPO", "CuttableProxy", "OwnPostgres", "OwnRedis", "ReliabilityStack"]


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed under /usr/lib/postgresql/*/bin")
    return found[-1]


def _as_postgres(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """initdb and pg_ctl refuse to run as root: run them as the postgres user when we are root."""
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kwargs)


class OwnPostgres:
    """A PostgreSQL cluster in a temporary folder, trust auth on 127.0.0.1, ours to restart."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "pgdata"
        self.sockets = root / "pgsock"
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        result = _as_postgres(
            [
                _pg_bin("initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ]
        )
        if result.returncode:
            raise RuntimeError(f"initdb failed: {result.stderr}")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}"

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        result = _as_postgres(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.root / "postgres.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                *args,
            ]
        )
        if result.returncode:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def close(self) -> None:
        try:
            self.stop()
        except RuntimeError:
            pass


class OwnRedis:
    """A redis-server with its append-only file in a temporary folder, ours to restart."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.root / "redis.log", "ab")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.root),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--protected-mode",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file and exits, as on a container restart."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def close(self) -> None:
        self.stop()


class CuttableProxy:
    """A TCP proxy to `target` that can be switched off: then it drops every open connection and
    resets new ones at once, which is how an unreachable object store looks to a client."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closing:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.close()  # RST
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while self.up:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            self._drop(sock)

    def _drop(self, sock):
        with self._lock:
            self._open.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def cut(self) -> None:
        self.up = False
        with self._lock:
            victims = list(self._open)
        for sock in victims:
            self._drop(sock)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self._closing = True
        self.cut()
        self.server.close()


class ReliabilityStack(Stack):
    """tests/stack's Stack on our own PostgreSQL, Redis and a cuttable path to S3."""

    def __init__(
        self, root: Path, s3_endpoint: str, *, postgres: OwnPostgres, redis: OwnRedis, extra_env: dict | None = None
    ):
        self.postgres, self.redis, self.extra_env = postgres, redis, extra_env or {}
        super().__init__(root, s3_endpoint)
        self.worker_name = f"stack-{self.run_id}@%h"

    def _environment(self) -> dict:
        env = super()._environment()
        env.update(DATABASE_URL=f"{self.postgres.url}/{self.database}", REDIS_URL=self.redis.url, **self.extra_env)
        return env

    def up(self) -> None:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.postgres.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        s3 = boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        for kind in ("archive", "inbox", "outbox"):
            s3.create_bucket(Bucket=f"{kind}-{self.run_id}")
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        self.manage(
            "createsuperuser",
            "--noinput",
            "--username",
            "root",
            "--email",
            "root@example.org",
            DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        )
        self.manage(
            "shell",
            "-c",
            (
                "from gdi_archive.accounts.models import User\n"
                f"for name in ('alice', 'carol', 'bob'): User.objects.create_user(name, f'{{name}}@example.org', {PASSWORD!r})\n"
            ),
        )
        self.start_web()
        self.start_worker()
        self.start(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "gdi_archive",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(self.root / "celerybeat-schedule"),
            ],
        )
        self.wait_ready()

    def start(self, name: str, argv: list[str]) -> None:
        """As Stack.start, but a restarted process appends to its log instead of wiping it."""
        log = open(self.logs / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_web(self, name: str = "web", **env) -> None:
        saved = self.env
        self.env = {**self.env, **env}
        try:
            self.start(name, [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "gdi_archive.wsgi"])
        finally:
            self.env = saved

    def start_worker(self) -> None:
        """A worker with the same name each time, as a restarted container has."""
        before = self.log("worker").count(" ready.") if (self.logs / "worker.log").exists() else 0
        self.start(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "gdi_archive",
                "worker",
                "--loglevel=INFO",
                "-Q",
                "default,ingest,exports",
                "--concurrency=1",
                "-n",
                self.worker_name,
                "--without-gossip",
                "--without-mingle",
            ],
        )
        deadline = time.monotonic() + 90
        while self.log("worker").count(" ready.") <= before:
            assert time.monotonic() < deadline and self.processes["worker"].poll() is None, self.log("worker")[-3000:]
            time.sleep(0.2)

    def kill(self, name: str) -> None:
        """SIGKILL the process group, as an OOM kill or a lost node would."""
        proc = self.processes[name]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)

    def stop(self, name: str) -> None:
        proc = self.processes[name]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill(name)

    def down(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    # --- people ------------------------------------------------------------------------------

    def token(self, username: str) -> str:
        minted = requests.post(self.url + "/api/tokens", json={}, auth=(username, PASSWORD), timeout=30)
        assert minted.status_code == 201, minted.text
        return minted.json()["token"]

    def session(self, username: str) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.token(username)}"
        return session


# --- helpers shared by the fault tests and bench/load.py (no Django imports) ----------------------


def s3(stack):
    return boto3.client(
        "s3",
        endpoint_url=stack.s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def bucket_keys(stack, kind: str) -> list[str]:
    listing = s3(stack).list_objects_v2(Bucket=f"{kind}-{stack.run_id}")
    return [item["Key"] for item in listing.get("Contents", [])]


def encrypt_for_archive(stack, plain: bytes, path: Path) -> Path:
    from gdi_archive.crypt4gh.keys import parse_public_key

    archive_pub = parse_public_key(requests.get(stack.url + "/api/archive-key", timeout=10).text)
    with open(path, "wb") as out:
        c4gh_lib.encrypt([(0, os.urandom(32), archive_pub)], io.BytesIO(plain), out)
    return path


def inbox_entry(session, url: str, name: str) -> dict | None:
    entries = session.get(url + "/api/inbox", timeout=20).json()
    return next((e for e in entries if e["name"] == name), None)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except requests.RequestException as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def publish(stack, accessions: list[str]) -> str:
    """A released dataset of the given files; alice is entitled to it. Returns its accession."""
    out = stack.manage(
        "shell",
        "-c",
        (
            "from datetime import timedelta\n"
            "from django.utils import timezone\n"
            "from gdi_archive.accounts.models import User\n"
            "from gdi_archive.catalogue.models import DAC, Dataset, File\n"
            "from gdi_archive.access.models import Entitlement\n"
            "dac, _ = DAC.objects.get_or_create(name='Reliability DAC')\n"
            "ds = Dataset.objects.create(title='Reliability cohort', dac=dac, status='released', released_at=timezone.now())\n"
            f"ds.files.add(*File.objects.filter(accession__in={accessions!r}))\n"
            "now = timezone.now()\n"
            "Entitlement.objects.create(user=User.objects.get(username='alice'), dataset=ds, start=now - timedelta(minutes=5),"
            " end=now + timedelta(days=3))\n"
            "ds.refresh_from_db()\n"
            "print(ds.accession)\n"
        ),
    )
    return out.strip().splitlines()[-1]

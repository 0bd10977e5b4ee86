"""The production-like stack bench/ingest.py --http and --workers run on: gunicorn and Celery
workers on a scratch PostgreSQL database and a Redis key prefix, local folders as stores."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PASSPHRASE = "bench-passphrase"


def bench_env(data_dir: Path) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL", "STORAGE_URL", "INBOX_URL", "OUTBOX_URL", "C4GH_SECRET_KEY_FILE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="gdi_archive.settings",
        DATA_DIR=str(data_dir),
        C4GH_PASSPHRASE=PASSPHRASE,
        ENVIRONMENT="development",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
    )
    return env


class IngestStack:
    """gunicorn and Celery workers on a scratch PostgreSQL database and a Redis key prefix, with
    local folders as archive, inbox and outbox (so the figures are the archive's, not a store's)."""

    def __init__(self, workdir: Path):
        import uuid

        self.workdir, self.run = workdir, uuid.uuid4().hex[:10]
        self.database = f"gdi_bench_ingest_{self.run}"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = uuid.uuid4().hex
        self.processes: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        data = workdir / "stack-data"
        self.env = {
            **bench_env(data),
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{self.database}",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "CELERY_KEY_PREFIX": f"gdi-bench-{self.run}:",
            "CACHE_KEY_PREFIX": f"gdi-bench-{self.run}",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "BASE_URL": self.url,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": "2",
            "GUNICORN_THREADS": "4",
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
        }
        for kind in ("archive", "inbox", "outbox"):
            self.env[f"{'STORAGE' if kind == 'archive' else kind.upper()}_URL"] = f"file://{data / kind}"
        (workdir / "prometheus").mkdir(exist_ok=True)

    def manage(self, *args: str) -> str:
        out = subprocess.run([PYTHON, "manage.py", *args], cwd=REPO, env=self.env, capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"manage.py {args[0]} failed:\n{out.stderr[-3000:]}")
        return out.stdout

    def up(self) -> Path:
        """Create the database, keys and a submitter; start gunicorn. Returns the archive public key file."""
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.manage("migrate", "--noinput")
        pub = self.workdir / "stack-archive.pub"
        self.manage(
            "shell",
            "-c",
            (
                "from pathlib import Path\n"
                "from gdi_archive.accounts.models import User\n"
                "from gdi_archive.crypt4gh.keys import format_public_key\n"
                "from gdi_archive.keyring.archive import key_files, current_public_key, ensure_archive_keys\n"
                "ensure_archive_keys()\n"
                f"Path({str(pub)!r}).write_text(format_public_key(current_public_key()))\n"
                f"Path({str(self.workdir / 'stack-secret-key')!r}).write_text(str(key_files()[0]))\n"
                f"User.objects.create_superuser('bench', 'bench@example.org', {self.password!r})\n"
            ),
        )
        log = open(self.workdir / "gunicorn.log", "wb")
        self.processes.append(
            subprocess.Popen(
                [str(Path(PYTHON).with_name("gunicorn")), "-c", "deploy/gunicorn.conf.py", "gdi_archive.wsgi"],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 60
        while not self._answers("/health/live"):
            if time.monotonic() > deadline:
                sys.exit("gunicorn did not start:\n" + (self.workdir / "gunicorn.log").read_text()[-3000:])
            time.sleep(0.2)
        self.token = self._token()
        return pub

    def _token(self) -> str:
        """A passport token for the submitter, minted with its password as a script would."""
        import base64
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        auth = base64.b64encode(f"bench:{self.password}".encode()).decode()
        conn.request(
            "POST",
            "/api/tokens",
            body=json.dumps({}),
            headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        body = response.read()
        if response.status != 201:
            sys.exit(f"no token: {response.status} {body[:300]!r}")
        return json.loads(body)["token"]

    def _answers(self, path: str) -> bool:
        import http.client

        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", path)
            return conn.getresponse().status == 200
        except OSError:
            return False

    def start_workers(self, count: int) -> None:
        queues = self.manage(
            "shell", "-c", "from django.conf import settings\nprint(getattr(settings, 'CELERY_WORKER_QUEUES', ''))"
        ).strip()
        queues = queues.splitlines()[-1].strip() if queues else ""  # the shell may say what it imported first
        for _ in range(count):
            log_path = self.workdir / f"worker-{len(self.workers)}.log"
            argv = [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "gdi_archive",
                "worker",
                "--loglevel=WARNING",
                "--concurrency=1",
                "--pool=prefork",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"bench-{self.run}-{len(self.workers)}@%h",
            ]
            if queues:
                argv += ["-Q", queues]
            self.workers.append(
                subprocess.Popen(
                    argv,
                    cwd=REPO,
                    env=self.env,
                    stdout=open(log_path, "wb"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def stop_workers(self) -> None:
        import signal

        for proc in self.workers:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers:
            proc.wait(timeout=60)
        self.workers = []

    def put(self, path: Path, name: str, *, as_part: bool = False) -> None:
        """One streaming PUT of the whole file, as `curl -T` or the client would send it.

        `as_part`: the same bytes as one part of a resumable upload (`Content-Range`), which is
        not verified on receipt, so that its run does the whole pass."""
        import http.client

        size = path.stat().st_size
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Length": str(size),
            "Content-Type": "application/octet-stream",
        }
        if as_part:
            headers["Content-Range"] = f"bytes 0-{size - 1}/{size}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600, blocksize=1 << 20)
        with open(path, "rb") as body:
            conn.request("PUT", f"/api/inbox/{name}", body=body, headers=headers)
            response = conn.getresponse()
            text = response.read()
        if response.status not in (201, 202):
            sys.exit(f"upload of {name} answered {response.status}: {text[:500]!r}")

    def wait_ready(self, names: set[str], timeout: float = 1800) -> None:
        import http.client

        deadline = time.monotonic() + timeout
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while time.monotonic() < deadline:
            conn.request("GET", "/api/inbox?limit=1000", headers={"Authorization": f"Bearer {self.token}"})
            body = json.loads(conn.getresponse().read())
            entries = body["results"] if isinstance(body, dict) else body
            states = {e["name"]: e["status"] for e in entries if e["name"] in names}
            failed = {n: s for n, s in states.items() if s == "error"}
            if failed:
                sys.exit(f"ingest failed: {failed}")
            if len(states) == len(names) and all(s == "ready" for s in states.values()):
                return
            time.sleep(0.1)  # each listing costs the server CPU the workers would otherwise have
        sys.exit("ingest did not finish in time")

    def ingest_span(self, names: set[str]) -> tuple[float, float]:
        """Seconds from the first of these files' runs starting to the last one's finishing (database
        clock), and the runs' summed durations over that span: how many ran at once on average."""
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{self.database}") as conn:
            first, last, busy = conn.execute(
                "SELECT min(j.started_at), max(j.finished_at), "
                "sum(extract(epoch FROM j.finished_at - j.started_at)) FROM ingest_ingestjob j "
                "JOIN catalogue_file f ON f.id = j.file_id WHERE f.inbox_name = ANY(%s)",
                (list(names),),
            ).fetchone()
        span = (last - first).total_seconds()
        return span, float(busy) / span

    def down(self) -> None:
        import signal

        import psycopg

        self.stop_workers()
        for proc in self.processes:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        try:
            import redis

            client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
            for key in client.scan_iter(f"*gdi-bench-{self.run}*"):
                client.delete(key)
        except Exception as exc:  # noqa: BLE001 - the bench's own clean-up, best effort
            print(f"(redis clean-up: {exc})")
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_secret_key(workdir: Path) -> Path:
    return Path((workdir / "stack-secret-key").read_text())

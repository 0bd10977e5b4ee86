"""The production-like stack on this machine, without containers: a fresh PostgreSQL database,
Redis (own key prefix), SeaweedFS's S3 gateway, gunicorn with deploy/gunicorn.conf.py, a Celery worker
and beat, all with ENVIRONMENT=production and freshly generated secrets passed as *_FILE. Then
the `gdi-archive` client does what people do: upload, ingest, request, approve, download with a
resume after the client is killed, decrypt, checksum."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from tests.client.conftest import Persona, wait_until_ready
from tests.conftest import free_port, wait_for_port
from tests.shared import gdi_shapes_dir

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the test environment's; a Stack may run another (Stack.python)
PASSWORD = "stack-test-password-1234"

pytestmark = [pytest.mark.slow, pytest.mark.s3, pytest.mark.timeout(600)]


class Stack:
    """`python` is the interpreter of the environment the stack runs from (its gunicorn,
    crypt4gh-keygen and celery are beside it); `s3_endpoint` None means local object stores
    (file:// folders), as a single-machine install has."""

    def __init__(self, root: Path, s3_endpoint: str | None, *, python: str = sys.executable):
        self.root = root
        self.python = python
        self.bin = Path(python).parent
        self.run_id = uuid.uuid4().hex[:10]
        self.database = f"gdi_stack_{self.run_id}"
        self.port = free_port()
        self.worker_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.s3_endpoint = s3_endpoint
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = root / "logs"
        self.logs.mkdir()
        self.metrics_token = uuid.uuid4().hex + uuid.uuid4().hex
        self.env = self._environment()

    def _secrets(self) -> dict[str, str]:
        """Generated the way deploy/README.md tells an operator to."""
        folder = self.root / "secrets"
        folder.mkdir(mode=0o700)
        (folder / "django_secret_key").write_text(uuid.uuid4().hex * 2)
        passphrase = uuid.uuid4().hex
        (folder / "c4gh_passphrase").write_text(passphrase)
        subprocess.run(
            [
                str(self.bin / "crypt4gh-keygen"),
                "--sk",
                str(folder / "c4gh_archive_key"),
                "--pk",
                str(folder / "c4gh_archive_key.pub"),
            ],
            input=f"{passphrase}\n{passphrase}\n",
            text=True,
            check=True,
            capture_output=True,
            timeout=60,
        )
        subprocess.run(
            [
                "openssl",
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                str(folder / "visa_signing_key"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        (folder / "s3_secret_key").write_text("testing")
        (folder / "metrics_token").write_text(self.metrics_token)
        files = {
            "SECRET_KEY_FILE": str(folder / "django_secret_key"),
            "C4GH_SECRET_KEY_FILE": str(folder / "c4gh_archive_key"),
            "C4GH_PASSPHRASE_FILE": str(folder / "c4gh_passphrase"),
            "VISA_SIGNING_KEY_FILE": str(folder / "visa_signing_key"),
            "METRICS_TOKEN_FILE": str(folder / "metrics_token"),
        }
        if self.s3_endpoint:
            files["AWS_SECRET_ACCESS_KEY_FILE"] = str(folder / "s3_secret_key")
        return files

    def _environment(self) -> dict:
        keep = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR")
        env = {key: value for key, value in os.environ.items() if key in keep}
        env.update(self._secrets())
        prefix = f"gdi-stack-{self.run_id}"
        (self.root / "prometheus").mkdir()
        env.update(
            ENVIRONMENT="production",
            GDI_COUNTRY="EE",
            GDI_ORGANISATION="STACK",
            FDP_PUBLISHER_NAME="Stack test node",
            FDP_PUBLISHER_EMAIL="stack@example.org",
            DJANGO_SETTINGS_MODULE="gdi_archive.settings",
            BASE_URL=self.url,
            DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{self.database}",
            REDIS_URL="redis://127.0.0.1:6379/0",
            CELERY_KEY_PREFIX=f"{prefix}:",
            CACHE_KEY_PREFIX=prefix,
            DATA_DIR=str(self.root / "data"),
            LOG_FORMAT="json",
            PROMETHEUS_MULTIPROC_DIR=str(self.root / "prometheus"),
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            GUNICORN_WORKERS="2",
            GUNICORN_THREADS="4",
            WORKER_HTTP_PORT=str(self.worker_port),
            PYTHONUNBUFFERED="1",
        )
        shapes = gdi_shapes_dir()  # production refuses to start (and to release) without them
        if shapes is None:
            pytest.skip(
                "The GDI metadata shapes (../shared/standards/gdi-metadata-shacl) are not here: set GDI_SHARED_DIR"
            )
        env["FDP_SHAPES_DIR"] = str(shapes)
        if self.s3_endpoint:
            env.update(
                STORAGE_URL=f"s3://archive-{self.run_id}",
                INBOX_URL=f"s3://inbox-{self.run_id}",
                OUTBOX_URL=f"s3://outbox-{self.run_id}",
                S3_ENDPOINT_URL=self.s3_endpoint,
                AWS_ACCESS_KEY_ID="testing",
            )
        else:
            for kind in ("archive", "inbox", "outbox"):
                folder = self.root / "stores" / kind
                folder.mkdir(parents=True)
                env[f"{'STORAGE' if kind == 'archive' else kind.upper()}_URL"] = folder.as_uri()
        return env

    # --- lifecycle ---------------------------------------------------------------------------

    def manage(self, *args: str, **extra) -> str:
        result = subprocess.run(
            [self.python, "manage.py", *args],
            cwd=REPO,
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr[-4000:]}"
        return result.stdout

    def start(self, name: str, argv: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen(
            argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        wait_for_port(self.port, timeout=60)
        deadline = time.monotonic() + timeout
        answer = "no answer"
        while time.monotonic() < deadline:
            try:
                ready = requests.get(self.url + "/health/ready", timeout=20)
                answer = ready.text
                if ready.status_code == 200:
                    return
            except requests.RequestException as exc:
                answer = repr(exc)
            time.sleep(0.5)
        raise AssertionError(f"/health/ready never said ok: {answer}\n{self.log('web')[-3000:]}")

    def up(self, *, start_worker: bool = True, worker_queues: str | None = "default,ingest,exports") -> None:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        if self.s3_endpoint:
            import boto3

            s3 = boto3.client(
                "s3",
                endpoint_url=self.s3_endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name="us-east-1",
            )
            for kind in ("archive", "inbox", "outbox"):
                s3.create_bucket(Bucket=f"{kind}-{self.run_id}")  # the operator's `mc mb` (deploy/README.md)
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
                f"for name in ('alice', 'carol'): User.objects.create_user(name, f'{{name}}@example.org', {PASSWORD!r})\n"
            ),
        )
        self.start("web", [str(self.bin / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "gdi_archive.wsgi"])
        if start_worker:
            self.start_worker(queues=worker_queues)
        self.start(
            "beat",
            [
                self.python,
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
        if start_worker:
            self.wait_worker()

    def start_worker(self, *, queues: str | None = "default,ingest,exports") -> None:
        """`queues` None: no -Q, as `celery -A gdi_archive worker` is started in deploy/."""
        argv = [self.python, "-m", "celery", "-A", "gdi_archive", "worker", "--loglevel=INFO"]
        if queues:
            argv += ["-Q", queues]
        argv += ["--concurrency=1", "-n", f"stack-{self.run_id}@%h", "--without-gossip", "--without-mingle"]
        self.start("worker", argv)

    def wait_worker(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while " ready." not in self.log("worker"):
            assert time.monotonic() < deadline and self.processes["worker"].poll() is None, self.log("worker")[-3000:]
            time.sleep(0.3)

    def down(self) -> None:
        for _name, proc in self.processes.items():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        import redis

        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        for key in client.scan_iter(f"*gdi-stack-{self.run_id}*"):
            client.delete(key)
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


@pytest.fixture
def stack(tmp_path, s3_server):
    stack = Stack(tmp_path, s3_server)
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


def test_production_stack_from_upload_to_verified_download(stack, tmp_path):
    def person(name):
        persona = Persona(name, stack.url, tmp_path / name)
        persona.env = lambda _env=persona.env, **extra: _env(GDI_ARCHIVE_PASSWORD=PASSWORD, **extra)
        return persona.login()

    operator, carol, alice = person("root"), person("carol"), person("alice")

    # The operator (who may do all stewardship) sets up a DAC and submits a file.
    dac = operator.api("POST", "/api/dacs", 201, json={"name": "Stack DAC", "contact_email": "dac@example.org"})
    operator.api("POST", f"/api/dacs/{dac['accession']}/members", 201, json={"username": "carol"})
    source = tmp_path / "genome.bin"
    source.write_bytes(os.urandom(5 * 1024 * 1024 + 4321))
    encrypted = operator.home / "genome.bin.c4gh"
    operator.run("encrypt", str(source), "-o", str(encrypted), "--archive")
    operator.run("upload", str(encrypted))
    entry = wait_until_ready(operator, "genome.bin.c4gh", timeout=180)  # by the Celery worker, through Redis
    assert "ingest_file" in stack.log("worker")

    dataset = operator.api(
        "POST", "/api/datasets", 201, json={"title": "Stack cohort", "dac": dac["accession"], "duo": ["DUO:0000042"]}
    )
    operator.api("POST", f"/api/datasets/{dataset['accession']}/files", json={"files": [entry["accession"]]})
    operator.api("POST", f"/api/datasets/{dataset['accession']}/release")

    # The researcher asks, the DAC member approves.
    request = alice.api(
        "POST",
        "/api/access-requests",
        201,
        json={
            "datasets": [dataset["accession"]],
            "title": "Stack study",
            "purpose": "Check the whole stack.",
            "accept_terms": True,
        },
    )
    alice.api("POST", f"/api/access-requests/{request['id']}/submit")
    carol.login()  # now a DAC member
    assert carol.api("POST", f"/api/access-requests/{request['id']}/approve", json={})["status"] == "approved"
    time.sleep(1.05)  # a token minted in the approval's second misses it (whole-second "now")
    alice.login()
    assert [d["accession"] for d in alice.json("datasets")] == [dataset["accession"]]

    # Download, killed half-way, resumed, decrypted and checked against the catalogue's sha256.
    sk, pk = str(alice.home / "me.sec"), str(alice.home / "me.pub")
    alice.run("keygen", "--sk", sk, "--pk", pk)
    out = alice.home / "genome.bin"
    state = alice.home / "genome.bin.part.json"
    first = alice.popen(
        "download", entry["accession"], "-o", str(out), "--decrypt", "--sk", sk, "--parallel", "3", "--limit-rate", "1M"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None:
        try:
            if sum(p["done"] for p in json.loads(state.read_text())["parts"]) >= 1024 * 1024:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    assert first.poll() is None, "the download ended before it could be interrupted"
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert not out.exists()
    result = json.loads(
        alice.run(
            "download", entry["accession"], "-o", str(out), "--decrypt", "--sk", sk, "--parallel", "3", "--json"
        ).stdout
    )
    assert result["resumed_from"] >= 1024 * 1024
    assert result["verified"] is True
    assert out.read_bytes() == source.read_bytes()

    # Operations: JSON access log without tokens, request ids, metrics behind the token, worker probes.
    access = [
        json.loads(line)
        for line in stack.log("web").splitlines()
        if line.startswith("{") and '"gunicorn.access"' in line
    ]
    assert any(
        line["path"].endswith(f"/api/files/{entry['accession']}/content") and line["status"] == 206 for line in access
    )
    assert all(line["request_id"] for line in access)
    # The ingest task logged with the request id of the upload that queued it.
    upload_ids = {line["request_id"] for line in access if line["method"] == "PUT" and "/api/inbox/" in line["path"]}
    worker_lines = [json.loads(line) for line in stack.log("worker").splitlines() if line.startswith("{")]
    assert worker_lines, "the worker logs JSON lines"
    assert any(line.get("request_id") in upload_ids and "ingest_file" in line["message"] for line in worker_lines), (
        upload_ids
    )
    assert all(json.loads(line) for line in stack.log("web").splitlines() if line.strip()), "every web log line is JSON"
    assert alice.token not in stack.log("web") and operator.token not in stack.log("web")
    assert requests.get(stack.url + "/metrics", timeout=10).status_code == 403
    metrics = requests.get(
        stack.url + "/metrics", headers={"Authorization": f"Bearer {stack.metrics_token}"}, timeout=10
    ).text
    assert 'gdi_downloads_total{kind="content"}' in metrics and "gdi_celery_queue_length" in metrics
    # Counted in the worker process, read through the shared multiprocess folder.
    assert 'gdi_ingest_files_total{result="ready"} 1.0' in metrics, metrics[-3000:]
    assert requests.get(f"http://127.0.0.1:{stack.worker_port}/health/live", timeout=10).status_code == 200
    assert requests.get(f"http://127.0.0.1:{stack.worker_port}/health/ready", timeout=10).status_code == 200
    assert stack.processes["beat"].poll() is None and "beat: Starting" in stack.log("beat")
    headers = requests.get(stack.url + "/health/live", timeout=10).headers
    assert "default-src 'self'" in headers["Content-Security-Policy"] and headers["X-Request-ID"]

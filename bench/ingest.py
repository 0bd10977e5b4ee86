"""Ingest throughput and memory, next to `crypt4gh decrypt | sha256sum` on the same file.

    .venv/bin/python bench/ingest.py [--size-mib 1024] [--small-mib 256] [--workdir /tmp] [--json]
    .venv/bin/python bench/ingest.py --http [--size-mib 1024] [--json]
    .venv/bin/python bench/ingest.py --workers 2 [--files 8] [--size-mib 128] [--json]

Makes a random file, encrypts it to the archive key with the crypt4gh tool, and times
  - ours: the ingest service the Celery task runs (`runs.run_ingest`: header, every segment's
    MAC, sha256 + md5 of the plaintext, sha256 of the body, body written to a local archive
    folder with fsync, database bookkeeping), in a fresh process like a worker's;
  - the tool: `crypt4gh decrypt --sk <archive key> < file | sha256sum`.
It prints MiB/s for both, the ratio (goal >= 1.6) and the ingest process's peak RSS for a small
and the full size, to show that memory does not grow with the file size. Embedded settings
(SQLite, local folders, tasks in-process) in a scratch folder; nothing else is touched.

`--http` measures what a submitter sees instead: one `PUT /api/inbox/{name}` of the whole file
through gunicorn (deploy/gunicorn.conf.py) until `GET /api/inbox` says `ready`, with a Celery
worker on Redis and PostgreSQL (a scratch database), local folders as stores; ratio against the
tool on the same file (goal >= 1.0). `--workers N` queues `--files` uploads with no worker
running, then times one worker and then N workers (fresh uploads each) until all are ready,
from the first run's start to the last one's end as the database records them (so the workers'
start-up is not counted): `workers_ratio` = time with 1 / time with N (goal >= 1.6 for 2), and
`runs_at_once` = the runs' summed durations / that span (about N when the workers really ingest
side by side, 1 if something serialised them). Whole-file PUTs are verified on receipt, so their
runs only copy the body; `--full-runs` uploads each file as one resumable part instead, so that
every run does the whole pass (decryption, MACs, three digests, the archive write).
`--json` prints one JSON object as the last line: `{"ratio", "ingest_mib_s", "tool_mib_s",
"peak_rss_mib", "memory_flat", ...}`, `{"http_ratio", "http_mib_s", "upload_mib_s", "tool_mib_s",
...}` or `{"workers_ratio", "runs_at_once", "one_worker_mib_s", ...}`.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CRYPT4GH = str(Path(sys.executable).with_name("crypt4gh"))
PASSPHRASE = "bench-passphrase"


def _env(data_dir: Path) -> dict:
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


def _child(mode: str, data_dir: Path, *args: str) -> dict:
    out = subprocess.run(
        [PYTHON, __file__, "--child", mode, *args], env=_env(data_dir), cwd=REPO, capture_output=True, text=True
    )
    if out.returncode:
        sys.exit(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(mode: str, args: list[str]) -> None:
    import django

    django.setup()
    from gdi_archive.keyring.archive import current_public_key, ensure_archive_keys, key_files

    if mode == "prepare":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        ensure_archive_keys()
        from gdi_archive.crypt4gh.keys import format_public_key

        pub = Path(args[0])
        pub.write_text(format_public_key(current_public_key()))
        print(json.dumps({"secret_key": str(key_files()[0])}))
        return
    if mode == "ingest":
        from django.contrib.auth import get_user_model

        from gdi_archive.ingest.runs import run_ingest
        from gdi_archive.ingest.services import receive_upload

        path = Path(args[0])
        user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True})
        with open(path, "rb") as handle:  # into the inbox first (not timed: that is the upload)
            file, _ = receive_upload(
                submitter=user,
                name=f"{time.time_ns()}-{path.name}",
                chunks=iter(lambda: handle.read(8 << 20), b""),
                size=path.stat().st_size,
                enqueue=False,
            )
        archive_store_path = Path(os.environ["DATA_DIR"]) / "archive"
        import resource

        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        result = run_ingest(file_id=file.pk, worker="bench")
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert result is not None and result.status == "ready", result and result.error
        shutil.rmtree(archive_store_path, ignore_errors=True)  # keep the scratch disk small
        print(json.dumps({"seconds": seconds, "cpu": cpu, "sha256": result.sha256, "peak_rss_mib": _peak_rss_mib()}))
        return
    raise SystemExit(f"unknown mode {mode}")


def make_encrypted(workdir: Path, size: int, pub: Path) -> tuple[Path, str]:
    import hashlib

    plain, encrypted = workdir / f"plain-{size}", workdir / f"plain-{size}.c4gh"
    digest = hashlib.sha256()
    with open(plain, "wb") as handle:
        left = size
        while left:
            block = os.urandom(min(left, 8 << 20))
            digest.update(block)
            handle.write(block)
            left -= len(block)
    with open(plain, "rb") as src, open(encrypted, "wb") as dst:
        subprocess.run([CRYPT4GH, "encrypt", "--recipient_pk", str(pub)], stdin=src, stdout=dst, check=True)
    plain.unlink()
    return encrypted, digest.hexdigest()


def time_tool(encrypted: Path, secret_key: str) -> tuple[float, float, str]:
    import resource

    env = {**os.environ, "C4GH_PASSPHRASE": PASSPHRASE}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(encrypted, "rb") as src:
        decrypt = subprocess.Popen(
            [CRYPT4GH, "decrypt", "--sk", secret_key],
            stdin=src,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        out = subprocess.run(["sha256sum"], stdin=decrypt.stdout, capture_output=True, text=True, check=True)
        decrypt.stdout.close()
        if decrypt.wait():
            sys.exit("crypt4gh decrypt failed")
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, out.stdout.split()[0]


def _warm(path: Path) -> None:
    with open(path, "rb") as handle:
        while handle.read(8 << 20):
            pass


# --- the HTTP path and several workers: gunicorn, Celery workers, PostgreSQL, Redis ------------


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
            **_env(data),
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


def bench_http(args, workdir: Path) -> dict:
    """One whole-file PUT through gunicorn until ready, next to the tool on the same file."""
    stack = IngestStack(workdir)
    try:
        pub = stack.up()
        stack.start_workers(1)
        encrypted, expected = make_encrypted(workdir, args.size_mib << 20, pub)
        secret_key = str(_stack_secret_key(workdir))
        ours, tool = [], []
        for attempt in range(args.repeat):
            _warm(encrypted)
            seconds, _, digest = time_tool(encrypted, secret_key)
            assert digest == expected, "crypt4gh decrypt gave another sha256"
            tool.append(seconds)
            _warm(encrypted)
            name = f"http-{attempt}-{encrypted.name}"
            started = time.perf_counter()
            stack.put(encrypted, name)
            uploaded = time.perf_counter() - started
            stack.wait_ready({name})
            ours.append((time.perf_counter() - started, uploaded))
        best, upload = min(ours)
        mib = args.size_mib
        row = {
            "size_mib": mib,
            "http_mib_s": round(mib / best, 1),
            "upload_mib_s": round(mib / upload, 1),
            "tool_mib_s": round(mib / min(tool), 1),
            "http_ratio": round(min(tool) / best, 2),
        }
        print(
            f"PUT {mib} MiB until ready: {row['http_mib_s']} MiB/s (the upload itself {row['upload_mib_s']} MiB/s), "
            f"tool {row['tool_mib_s']} MiB/s: ratio {row['http_ratio']} (goal >= 1.0): "
            f"{'met' if row['http_ratio'] >= 1.0 else 'NOT met'}"
        )
        return row
    finally:
        stack.down()


def _stack_secret_key(workdir: Path) -> Path:
    return Path((workdir / "stack-secret-key").read_text())


def bench_workers(args, workdir: Path) -> dict:
    """--files uploads queued with no worker, ingested by one worker, then by N (fresh uploads)."""
    stack = IngestStack(workdir)
    try:
        pub = stack.up()
        encrypted, _ = make_encrypted(workdir, args.size_mib << 20, pub)
        timings, overlap = {}, {}
        for count in (1, args.workers):
            names = set()
            for n in range(args.files):
                name = f"w{count}-{n}-{encrypted.name}"
                stack.put(encrypted, name, as_part=args.full_runs)
                names.add(name)
            stack.start_workers(count)
            stack.wait_ready(names)
            timings[count], overlap[count] = stack.ingest_span(names)  # first claim to last ready, not start-up
            stack.stop_workers()
        total = args.files * args.size_mib
        row = {
            "files": args.files,
            "size_mib": args.size_mib,
            "one_worker_mib_s": round(total / timings[1], 1),
            f"{args.workers}_workers_mib_s": round(total / timings[args.workers], 1),
            "workers_ratio": round(timings[1] / timings[args.workers], 2),
            "runs_at_once": round(overlap[args.workers], 2),  # ~N when N workers really ingest side by side
            "full_runs": args.full_runs,
        }
        print(
            f"{args.files} x {args.size_mib} MiB: 1 worker {row['one_worker_mib_s']} MiB/s, {args.workers} workers "
            f"{row[f'{args.workers}_workers_mib_s']} MiB/s: ratio {row['workers_ratio']} (goal >= 1.6 for 2); "
            f"{row['runs_at_once']} runs at once on average with {args.workers}"
        )
        return row
    finally:
        stack.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--small-mib", type=int, default=256, help="second size, for peak memory (0: skip)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each; the best is reported")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--http", action="store_true", help="time a PUT through gunicorn until ready instead")
    parser.add_argument("--workers", type=int, default=0, help="compare 1 and N Celery workers on --files uploads")
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument(
        "--full-runs",
        action="store_true",
        help="--workers: upload as one resumable part (not verified on receipt): each run does the whole pass",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child[0], args.child[1:])
        return

    workdir = Path(tempfile.mkdtemp(prefix="gdi-bench-ingest-", dir=args.workdir))
    try:
        if args.http or args.workers:
            print(f"cpus: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}, scratch: {workdir}")
            row = bench_http(args, workdir) if args.http else bench_workers(args, workdir)
            if args.json:
                print(json.dumps(row))
            return
        data_dir = workdir / "data"
        pub = workdir / "archive.pub"
        secret_key = _child("prepare", data_dir, str(pub))["secret_key"]
        print(f"cpus: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}, scratch: {workdir}")
        sizes = [s for s in (args.small_mib, args.size_mib) if s]
        rows = {}
        for mib in sorted(set(sizes)):
            encrypted, expected = make_encrypted(workdir, mib << 20, pub)
            ours, tool, ours_cpu, tool_cpu, rss = [], [], [], [], []
            for _ in range(args.repeat):  # interleaved, so both see the same machine load
                _warm(encrypted)
                seconds, cpu, digest = time_tool(encrypted, secret_key)
                assert digest == expected, "crypt4gh decrypt gave another sha256"
                tool.append(seconds)
                tool_cpu.append(cpu)
                _warm(encrypted)
                result = _child("ingest", data_dir, str(encrypted))
                assert result["sha256"] == expected, "ingest recorded another sha256"
                ours.append(result["seconds"])
                ours_cpu.append(result["cpu"])
                rss.append(result["peak_rss_mib"])
            encrypted.unlink()
            rows[mib] = (mib / min(ours), mib / min(tool), max(rss), min(ours_cpu), min(tool_cpu))
        print("best of", args.repeat, "runs each; CPU = user + system seconds of all processes/threads involved")
        print(
            f"{'size':>9} {'ingest MiB/s':>13} {'tool MiB/s':>11} {'ratio':>6} {'ingest CPU s':>13} {'tool CPU s':>11} "
            f"{'ingest peak RSS':>16}"
        )
        for mib, (ours, tool, rss, ocpu, tcpu) in rows.items():
            print(
                f"{mib:>5} MiB {ours:>13.1f} {tool:>11.1f} {ours / tool:>6.2f} {ocpu:>13.2f} {tcpu:>11.2f} {rss:>12.1f} MiB"
            )
        main_ratio = rows[args.size_mib][0] / rows[args.size_mib][1]
        print(
            f"ratio at {args.size_mib} MiB: {main_ratio:.2f} (goal >= 1.6): {'met' if main_ratio >= 1.6 else 'NOT met'}"
        )
        flat = None
        if len(rows) > 1:
            small, big = rows[min(rows)][2], rows[max(rows)][2]
            flat = big < small * 1.2 + 8
            print(
                f"peak RSS {small:.1f} MiB at {min(rows)} MiB vs {big:.1f} MiB at {max(rows)} MiB "
                f"({'flat' if flat else 'GROWS'})"
            )
        if args.json:
            ours, tool, rss, _, _ = rows[args.size_mib]
            print(
                json.dumps(
                    {
                        "size_mib": args.size_mib,
                        "ingest_mib_s": round(ours, 1),
                        "tool_mib_s": round(tool, 1),
                        "ratio": round(main_ratio, 2),
                        "peak_rss_mib": round(rss, 1),
                        "memory_flat": flat,
                    }
                )
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

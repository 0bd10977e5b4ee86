"""Download throughput and server memory, next to nginx and `crypt4gh reencrypt` on the same file.

    .venv/bin/python bench/download.py [--size-mib 1024] [--runs 3] [--concurrent 20] [--workdir /tmp]

Makes a random file, encrypts it to the archive key, ingests it with the real ingest service
(embedded settings: SQLite, local folders, in a scratch folder), and then prints side by side:
  - ours:   `GET /api/files/{acc}` (new header + stored body) through gunicorn with the
            deploy/gunicorn.conf.py settings, downloaded by curl to /dev/null;
  - nginx:  the same bytes (the stream the API served, saved once) as a static file;
  - tool:   `crypt4gh reencrypt` of the stored file for the same client key, to /dev/null;
with ratios (goals: >= 0.95 of a tuned nginx, >= the crypt4gh tool), and then `--concurrent` downloads
at once with the gunicorn processes' total RSS sampled before and during the run (goal: flat).
nginx (installed with apt-get when missing, Debian) runs on a free port with its own config in the
scratch folder, tuned for one large static file: sendfile (no chunk cap), tcp_nopush, large
output_buffers, access_log off, keepalive; its runs interleave with the API's in the same run.

--json: the last line is {"api_vs_nginx", "api_vs_tool", "api_mib_per_s", "nginx_mib_per_s",
"tool_mib_per_s", "concurrent", "concurrent_mib_per_s", "rss_idle_mib", "rss_peak_mib", "rss_growth_mib"}.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(sys.executable).parent
CRYPT4GH = str(BIN / "crypt4gh")
PASSPHRASE = "bench-passphrase"
PASSWORD = "bench-password-123"
MIB = 1024 * 1024


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"nothing listens on port {port}")


DATABASE = {}  # DATABASE_URL of a scratch PostgreSQL database, when one could be made


def _env(data_dir: Path, **extra) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "REDIS_URL",
            "DATABASE_URL",
            "STORAGE_URL",
            "INBOX_URL",
            "OUTBOX_URL",
            "C4GH_SECRET_KEY_FILE",
            "BASE_URL",
        )
    }
    env.update(
        DJANGO_SETTINGS_MODULE="gdi_archive.settings",
        DATA_DIR=str(data_dir),
        C4GH_PASSPHRASE=PASSPHRASE,
        ENVIRONMENT="development",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
        **DATABASE,
        **extra,
    )
    return env


def scratch_database(server: str) -> str | None:
    """A fresh PostgreSQL database on `server` (production-like: SQLite serialises the
    concurrent audit writes), or None when there is no PostgreSQL to use."""
    import uuid

    try:
        import psycopg

        name = f"gdi_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name
    except Exception as exc:
        print(f"no PostgreSQL at {server} ({exc.__class__.__name__}); using SQLite", flush=True)
        return None


def drop_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _child(mode: str, data_dir: Path, *args: str) -> dict:
    out = subprocess.run(
        [PYTHON, __file__, "--child", mode, *args], env=_env(data_dir), cwd=REPO, capture_output=True, text=True
    )
    if out.returncode:
        sys.exit(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_main(mode: str, args: list[str]) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from gdi_archive.keyring.archive import current_public_key, ensure_archive_keys, key_files

    if mode == "prepare":
        from django.core.management import call_command

        from gdi_archive.crypt4gh.keys import format_public_key

        call_command("migrate", verbosity=0)
        ensure_archive_keys()
        Path(args[0]).write_text(format_public_key(current_public_key()))
        print(json.dumps({"secret_key": str(key_files()[0])}))
        return
    if mode == "ingest":
        from datetime import timedelta

        from django.utils import timezone

        from gdi_archive.access.models import Entitlement
        from gdi_archive.catalogue.models import DAC, Dataset
        from gdi_archive.ingest.services import ingest_local_file

        steward = get_user_model().objects.create_superuser("steward", "steward@example.org", PASSWORD)
        reader = get_user_model().objects.create_user("reader", "reader@example.org", PASSWORD)
        file = ingest_local_file(path=Path(args[0]), submitter=steward, name="bench.bin.c4gh")
        if file.status != "ready":
            sys.exit(f"ingest failed: {file.error}")
        dac = DAC.objects.create(name="Bench DAC")
        dataset = Dataset.objects.create(
            title="Bench", dac=dac, status=Dataset.Status.RELEASED, released_at=timezone.now()
        )
        dataset.files.add(file)
        now = timezone.now()
        Entitlement.objects.create(
            user=reader, dataset=dataset, start=now - timedelta(minutes=1), end=now + timedelta(days=1)
        )
        print(json.dumps({"accession": file.accession, "stored": file.location}))
        return
    raise SystemExit(f"unknown child mode {mode}")


def make_plaintext(path: Path, size: int) -> None:
    with open(path, "wb") as out:
        left = size
        while left:
            n = min(left, 16 * MIB)
            out.write(os.urandom(n))
            left -= n


def curl_download(url: str, headers: dict, output: str = "/dev/null") -> tuple[int, float]:
    cmd = ["curl", "-s", "-o", output, "-w", "%{http_code} %{size_download} %{time_total}"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout.split()
    if out[0] != "200":
        raise RuntimeError(f"download of {url} answered {out[0]}")
    return int(out[1]), float(out[2])


def best(runs: list[tuple[int, float]]) -> float:
    """MiB/s of the fastest run (the others are shown too)."""
    return max(size / MIB / seconds for size, seconds in runs)


def process_tree_rss(pid: int) -> int:
    """Total RSS in bytes of `pid` and its children (gunicorn master + workers)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except FileNotFoundError:
            pass
    return total


def ensure_nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    print("installing nginx (apt-get)...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx"],
        check=True,
        capture_output=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("nginx") or "/usr/sbin/nginx"


def start_nginx(workdir: Path, static: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = workdir / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""  # workers must read the scratch folder (mode 0700)
    # Tuned for serving one large static file fast: sendfile with no per-call cap, tcp_nopush to
    # fill packets, large output buffers (used when sendfile cannot be), no access log, keepalive.
    conf.write_text(f"""
{user}
worker_processes 2;
worker_rlimit_nofile 4096;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 1024; multi_accept on; }}
http {{
    access_log off;
    sendfile on;
    sendfile_max_chunk 0;
    tcp_nopush on;
    tcp_nodelay on;
    output_buffers 2 1m;
    directio off;
    keepalive_timeout 65;
    keepalive_requests 10000;
    open_file_cache max=100 inactive=60s;
    client_body_temp_path {workdir}/nginx-body;
    proxy_temp_path {workdir}/nginx-proxy;
    fastcgi_temp_path {workdir}/nginx-fastcgi;
    uwsgi_temp_path {workdir}/nginx-uwsgi;
    scgi_temp_path {workdir}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        root {static};
        location / {{ default_type application/octet-stream; }}
    }}
}}
""")
    proc = subprocess.Popen(
        [ensure_nginx(), "-c", str(conf), "-p", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port)
    return proc, port


def start_gunicorn(data_dir: Path, workdir: Path, threads: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = _env(
        data_dir,
        BASE_URL=f"http://127.0.0.1:{port}",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS=str(threads),
    )
    log = open(workdir / "gunicorn.log", "wb")
    proc = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "-c", str(REPO / "deploy" / "gunicorn.conf.py"), "gdi_archive.wsgi:application"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port(port)
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--workdir", default=tempfile.gettempdir())
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last")
    parser.add_argument(
        "--postgres",
        default="postgres://postgres@127.0.0.1:5432",
        help="PostgreSQL server for a scratch database ('' for SQLite)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child[0], args.child[1:])
        return

    workdir = Path(tempfile.mkdtemp(prefix="gdi-bench-download-", dir=args.workdir))
    data_dir = workdir / "data"
    size = args.size_mib * MIB
    processes = []
    database = scratch_database(args.postgres) if args.postgres else None
    if database:
        DATABASE["DATABASE_URL"] = f"{args.postgres}/{database}"
    try:
        print(f"scratch folder {workdir}; file size {args.size_mib} MiB; database {database or 'SQLite'}", flush=True)
        archive_pub = workdir / "archive.pub"
        secret_key = _child("prepare", data_dir, str(archive_pub))["secret_key"]
        plain, encrypted = workdir / "bench.bin", workdir / "bench.bin.c4gh"
        make_plaintext(plain, size)
        with open(plain, "rb") as source, open(encrypted, "wb") as target:
            subprocess.run(
                [CRYPT4GH, "encrypt", "--recipient_pk", str(archive_pub)], stdin=source, stdout=target, check=True
            )
        plain.unlink()
        started = time.monotonic()
        accession = _child("ingest", data_dir, str(encrypted))["accession"]
        print(f"ingested {accession} in {time.monotonic() - started:.1f} s", flush=True)

        client_sk, client_pk = workdir / "client.sec", workdir / "client.pub"
        subprocess.run(
            [str(BIN / "crypt4gh-keygen"), "--sk", str(client_sk), "--pk", str(client_pk), "--nocrypt", "-f"],
            check=True,
            capture_output=True,
            input=b"",
        )
        key_header = base64.b64encode(client_pk.read_bytes()).decode()

        gunicorn, port = start_gunicorn(data_dir, workdir, threads=max(8, args.concurrent // 2 + 1))
        processes.append(gunicorn)
        base = f"http://127.0.0.1:{port}"
        import requests

        minted = requests.post(f"{base}/api/tokens", json={}, auth=("reader", PASSWORD), timeout=60)
        if minted.status_code != 201:
            sys.exit(f"token: {minted.status_code} {minted.text[:300]}")
        headers = {"Authorization": f"Bearer {minted.json()['token']}", "X-C4GH-Public-Key": key_header}
        url = f"{base}/api/files/{accession}"

        static = workdir / "static"
        static.mkdir()
        served = static / "bench.c4gh"
        curl_download(url, headers, str(served))  # warm-up, and the exact bytes for nginx
        check = subprocess.run(
            f"{CRYPT4GH} decrypt --sk {client_sk} < {served} | wc -c",
            shell=True,
            capture_output=True,
            text=True,
            env={**os.environ, "C4GH_PASSPHRASE": ""},
        )
        if check.stdout.strip() != str(size):
            sys.exit(f"the API stream does not decrypt to {size} bytes: {check.stdout} {check.stderr[-500:]}")

        # Both servers up at once and their runs interleaved, so that a neighbour's load on this
        # shared machine hits both alike; the page cache holds both files (read once each first).
        nginx, nginx_port = start_nginx(workdir, static)
        processes.append(nginx)
        static_url = f"http://127.0.0.1:{nginx_port}/bench.c4gh"
        curl_download(static_url, {})
        ours, theirs = [], []
        for _ in range(args.runs):
            ours.append(curl_download(url, headers))
            theirs.append(curl_download(static_url, {}))
        stop(nginx)

        tool = []
        for _ in range(args.runs):
            started = time.monotonic()
            with open(encrypted, "rb") as source:
                subprocess.run(
                    [CRYPT4GH, "reencrypt", "--sk", secret_key, "--recipient_pk", str(client_pk)],
                    stdin=source,
                    stdout=subprocess.DEVNULL,
                    check=True,
                    env={**os.environ, "C4GH_PASSPHRASE": PASSPHRASE},
                )
            tool.append((encrypted.stat().st_size, time.monotonic() - started))

        api, static_rate, tool_rate = best(ours), best(theirs), best(tool)
        print()
        print(f"{'full download of ' + str(args.size_mib) + ' MiB':<44}{'MiB/s':>10}   runs")
        print(
            f"{'  API (gunicorn, /api/files/{acc})':<44}{api:>10.0f}   "
            + ", ".join(f"{s / MIB / t:.0f}" for s, t in ours)
        )
        print(
            f"{'  nginx, same bytes as a static file':<44}{static_rate:>10.0f}   "
            + ", ".join(f"{s / MIB / t:.0f}" for s, t in theirs)
        )
        print(
            f"{'  crypt4gh reencrypt to /dev/null':<44}{tool_rate:>10.0f}   "
            + ", ".join(f"{s / MIB / t:.0f}" for s, t in tool)
        )
        print(
            f"  API / tuned nginx = {api / static_rate:.2f} (goal >= 0.95);  API / crypt4gh tool = {api / tool_rate:.2f} (goal >= 1)"
        )

        # Concurrent downloads, with the server's memory sampled while they run.
        idle = process_tree_rss(gunicorn.pid)
        peak = [idle]
        running = threading.Event()
        running.set()

        def sample():
            while running.is_set():
                peak[0] = max(peak[0], process_tree_rss(gunicorn.pid))
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        results: list = [None] * args.concurrent

        def one(i):
            try:
                results[i] = curl_download(url, headers)
            except RuntimeError as exc:
                results[i] = exc

        threads = [threading.Thread(target=one, args=(i,)) for i in range(args.concurrent)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        running.clear()
        sampler.join()
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            print((workdir / "gunicorn.log").read_text()[-3000:])
            sys.exit(f"{len(failed)} of {args.concurrent} concurrent downloads failed: {failed[0]}")
        total = sum(r[0] for r in results)
        print()
        print(
            f"{args.concurrent} concurrent full downloads: {total / MIB:.0f} MiB in {elapsed:.1f} s = {total / MIB / elapsed:.0f} MiB/s "
            f"aggregate; slowest {max(r[1] for r in results):.1f} s"
        )
        print(
            f"  gunicorn RSS (master + 2 workers): idle {idle / MIB:.0f} MiB, peak during the run {peak[0] / MIB:.0f} MiB "
            f"(+{(peak[0] - idle) / MIB:.0f} MiB for {args.concurrent} streams of {args.size_mib} MiB)"
        )
        if args.json:
            figures = {
                "size_mib": args.size_mib,
                "api_mib_per_s": round(api, 1),
                "nginx_mib_per_s": round(static_rate, 1),
                "tool_mib_per_s": round(tool_rate, 1),
                "api_vs_nginx": round(api / static_rate, 3),
                "api_vs_tool": round(api / tool_rate, 3),
                "concurrent": args.concurrent,
                "concurrent_mib_per_s": round(total / MIB / elapsed, 1),
                "rss_idle_mib": round(idle / MIB, 1),
                "rss_peak_mib": round(peak[0] / MIB, 1),
                "rss_growth_mib": round((peak[0] - idle) / MIB, 1),
            }
            print(json.dumps(figures))
    finally:
        for proc in processes:
            stop(proc)
        if database:
            drop_database(args.postgres, database)
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

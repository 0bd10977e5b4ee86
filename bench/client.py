"""How fast is the `gdi-archive` client? A gunicorn server (deploy/gunicorn.conf.py, embedded
default: SQLite, local folder store, tasks in-process) on 127.0.0.1 holds one file; the client
downloads it with --parallel 1 and N, encrypted and decrypted on the fly, next to a bare
`requests` loop over /api/files/{acc} as the baseline. Prints MiB/s, ratios against the baseline
and the client's peak RSS (which must not grow with the file).

    .venv/bin/python bench/client.py [--mib 256] [--parallel 4] [--json]

--json: the last line is {"mib", "upload_mib_per_s", "baseline_mib_per_s", "runs": {label: {"mib_per_s",
"ratio", "peak_rss_mib"}}, "parallel_ratio"} (parallel_ratio: the encrypted --parallel N run over the
baseline).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "bench-password-12345"


# The client's own peak memory (the children's ru_maxrss would include manage.py runs).
RUNNER = (
    "import resource, sys\nfrom gdi_archive_client.cli import main\ncode = main(sys.argv[1:])\n"
    "print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(code)\n"
)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gdi-bench-client-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(
        DJANGO_SETTINGS_MODULE="gdi_archive.settings",
        DATA_DIR=str(root / "data"),
        BASE_URL=url,
        LOG_LEVEL="WARNING",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="8",
        C4GH_PASSPHRASE="bench-passphrase",
    )

    def manage(*argv, **extra):
        subprocess.run(
            [sys.executable, "manage.py", *argv], cwd=REPO, env={**env, **extra}, check=True, capture_output=True
        )

    manage("migrate", "--noinput")
    manage(
        "createsuperuser",
        "--noinput",
        "--username",
        "root",
        "--email",
        "r@example.org",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
    )
    manage(
        "shell",
        "-c",
        f"from gdi_archive.accounts.models import User\nfor n in ('alice', 'carol'): User.objects.create_user(n, n + '@example.org', {PASSWORD!r})",
    )
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "gdi_archive.wsgi"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(200):
            try:
                if requests.get(url + "/health/live", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)

        def cli(home: str, *argv, **extra):
            folder = root / home
            folder.mkdir(exist_ok=True)
            run_env = {
                **env,
                "XDG_CONFIG_HOME": str(folder / "config"),
                "GDI_ARCHIVE_URL": url,
                "GDI_ARCHIVE_PASSWORD": PASSWORD,
                "C4GH_PASSPHRASE": "me",
                **extra,
            }
            started = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", RUNNER, *argv],
                cwd=folder,
                env=run_env,
                check=True,
                capture_output=True,
                text=True,
            )
            peak = int(out.stderr.rsplit("PEAK_RSS_KIB ", 1)[1].split()[0])
            return out.stdout, time.perf_counter() - started, peak

        def token(home):
            return (root / home / "config" / "gdi-archive" / "token").read_text().strip()

        def api(home, method, path, **kwargs):
            response = requests.request(
                method, url + path, headers={"Authorization": f"Bearer {token(home)}"}, timeout=600, **kwargs
            )
            response.raise_for_status()
            return response.json() if response.content else None

        for person in ("root", "alice", "carol"):
            cli(person, "login", "--url", url, "--username", person)
        source = root / "root" / "sample.bin"
        with open(source, "wb") as handle:
            for _ in range(args.mib):
                handle.write(os.urandom(1024 * 1024))
        cli("root", "encrypt", str(source), "-o", str(source) + ".c4gh", "--archive")
        _, upload_seconds, _ = cli("root", "upload", str(source) + ".c4gh")
        entry = next(e for e in api("root", "GET", "/api/inbox") if e["name"] == "sample.bin.c4gh")
        assert entry["status"] == "ready", entry
        dac = api("root", "POST", "/api/dacs", json={"name": "Bench DAC"})
        api("root", "POST", f"/api/dacs/{dac['accession']}/members", json={"username": "carol"})
        dataset = api(
            "root", "POST", "/api/datasets", json={"title": "Bench", "dac": dac["accession"], "duo": ["DUO:0000042"]}
        )
        api("root", "POST", f"/api/datasets/{dataset['accession']}/files", json={"files": [entry["accession"]]})
        api("root", "POST", f"/api/datasets/{dataset['accession']}/release")
        request = api(
            "alice",
            "POST",
            "/api/access-requests",
            json={"datasets": [dataset["accession"]], "title": "Bench", "purpose": "Benchmark.", "accept_terms": True},
        )
        api("alice", "POST", f"/api/access-requests/{request['id']}/submit")
        cli("carol", "login", "--url", url, "--username", "carol")
        api("carol", "POST", f"/api/access-requests/{request['id']}/approve", json={})
        time.sleep(1.1)
        cli("alice", "login", "--url", url, "--username", "alice")
        sk, pk = str(root / "alice" / "me.sec"), str(root / "alice" / "me.pub")
        cli("alice", "keygen", "--sk", sk, "--pk", pk)
        size = source.stat().st_size
        mib = size / 1024**2

        # Baseline: one plain GET of the whole Crypt4GH stream, written to disk.
        import base64

        from crypt4gh.keys import get_public_key

        key = base64.b64encode(get_public_key(pk)).decode()
        started = time.perf_counter()
        with (
            requests.get(
                f"{url}/api/files/{entry['accession']}",
                headers={"Authorization": f"Bearer {token('alice')}", "X-C4GH-Public-Key": key},
                stream=True,
                timeout=600,
            ) as response,
            open(root / "alice" / "baseline.c4gh", "wb") as out,
        ):
            for chunk in response.iter_content(1024 * 1024):
                out.write(chunk)
        baseline = time.perf_counter() - started
        print(f"file: {mib:.0f} MiB; upload (encrypted, streamed): {mib / upload_seconds:.1f} MiB/s")
        print(f"baseline requests GET /api/files/{{acc}}: {mib / baseline:.1f} MiB/s")
        runs = {}
        for label, argv in (
            ("client --parallel 1, encrypted", ["--parallel", "1", "--pk", pk, "--no-verify"]),
            (
                f"client --parallel {args.parallel}, encrypted",
                ["--parallel", str(args.parallel), "--pk", pk, "--no-verify"],
            ),
            ("client --parallel 1, decrypt + sha256", ["--parallel", "1", "--decrypt", "--sk", sk]),
            (
                f"client --parallel {args.parallel}, decrypt + sha256",
                ["--parallel", str(args.parallel), "--decrypt", "--sk", sk],
            ),
        ):
            target = root / "alice" / f"out-{uuid.uuid4().hex[:6]}"
            _, seconds, peak_kib = cli("alice", "download", entry["accession"], "-o", str(target), *argv)
            print(
                f"{label}: {mib / seconds:.1f} MiB/s (x{baseline / seconds:.2f} of baseline), client peak RSS {peak_kib / 1024:.0f} MiB"
            )
            runs[label] = {
                "mib_per_s": round(mib / seconds, 1),
                "ratio": round(baseline / seconds, 3),
                "peak_rss_mib": round(peak_kib / 1024, 1),
            }
            target.unlink()
        if args.json:
            figures = {
                "mib": round(mib, 1),
                "upload_mib_per_s": round(mib / upload_seconds, 1),
                "baseline_mib_per_s": round(mib / baseline, 1),
                "runs": runs,
                "parallel_ratio": runs[f"client --parallel {args.parallel}, encrypted"]["ratio"],
            }
            print(json.dumps(figures))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

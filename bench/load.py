"""Load: many concurrent clients mixing htsget tickets, small-range downloads and dataset listings,
next to the same clients on a trivial endpoint (/health/live), so the cost of authorisation shows.

    .venv/bin/python bench/load.py [--clients 100] [--seconds 60] [--json]

Brings up the production-like stack of tests/stack (gunicorn with deploy/gunicorn.conf.py and its
default worker and thread counts, a Celery worker, PostgreSQL, Redis, SeaweedFS's S3 gateway
(tests/seaweedfs.py), all on 127.0.0.1, ENVIRONMENT=production), ingests a small synthetic BAM with its index through the real
pipeline, entitles a user, and then, for each phase, runs `--clients` threads for `--seconds`:
  - mix:   1/3 htsget region tickets (C4GH), 1/3 4 KiB plaintext-range downloads
           (re-encrypted header + one segment), 1/3 `GET /api/datasets`; every call with a
           passport bearer token, checked by the clearinghouse;
  - live:  `GET /health/live` (no token, no database).
Prints requests/s, p50/p99 latency, errors, and the gunicorn processes' total RSS (before, peak).
The clients run on the same machine and take CPU from the server: the figures are a floor.
`run_load()` is also used by tests/reliability (a short run that must see zero errors).

--profile FILE: py-spy (requirements-dev.txt) samples every gunicorn worker during the mix phase
(`py-spy record --subprocesses --format raw`, collapsed stacks to FILE); the bench then prints,
per request kind (the view the stack runs in), the share of samples spent in each of our
functions and in the libraries below them (inclusive), the top costs of docs/performance.md.
Profiling slows the server: take the figures from a run without it.

--json: the last line is {"mix": {..., "p99_ms", "errors"}, "live": {...}, "ratio"} (and, with
--profile, "profile": {kind: {"samples", "top": [[frame, share], ...]}}).
"""

import argparse
import base64
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlparse

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Target:
    url: str
    token: str
    bam: str | None  # accession of an indexed BAM the token may read
    key_b64: str  # the client's Crypt4GH public key, base64 of the 32 raw bytes
    references: list[tuple[str, int]] = field(default_factory=lambda: [("chr1", 2_000_000), ("chr2", 1_000_000)])
    plaintext_size: int = 0


@dataclass
class Result:
    name: str
    clients: int
    seconds: float
    latencies: list[float]
    errors: dict[str, int]
    by_kind: dict[str, list[float]]  # latencies per kind of call
    rss_before: int = 0
    rss_peak: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> dict:
        return {
            "phase": self.name,
            "clients": self.clients,
            "seconds": round(self.seconds, 1),
            "ok": len(self.latencies),
            "errors": self.errors,
            "requests_per_second": round(self.rate, 1),
            "p50_ms": round(self.percentile(50) * 1000, 1),
            "p99_ms": round(self.percentile(99) * 1000, 1),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 1) if self.latencies else None,
            "by_kind": {
                kind: {"ok": len(times), "p50_ms": round(sorted(times)[len(times) // 2] * 1000, 1)}
                for kind, times in sorted(self.by_kind.items())
                if times
            },
            "server_rss_before_mib": round(self.rss_before / 2**20, 1),
            "server_rss_peak_mib": round(self.rss_peak / 2**20, 1),
        }


def _requests_for(target: Target, phase: str, rng: random.Random):
    """(kind, path, headers, expected status) for the next call."""
    if phase == "live":
        return "live", "/health/live", {}, 200
    auth = {"Authorization": f"Bearer {target.token}"}
    kind = rng.choice(["ticket", "range", "listing"] if target.bam else ["range", "listing"])
    if kind == "listing":
        return kind, "/api/datasets", auth, 200
    key = {"X-C4GH-Public-Key": target.key_b64}
    if kind == "ticket":
        name, length = rng.choice(target.references)
        start = rng.randrange(0, length - 20_000)
        query = urlencode({"encryptionScheme": "C4GH", "referenceName": name, "start": start, "end": start + 20_000})
        return kind, f"/htsget/reads/{target.bam}?{query}", {**auth, **key}, 200
    start = rng.randrange(0, max(1, target.plaintext_size - 4096))
    return kind, f"/api/files/{target.bam}?start={start}&end={start + 4096}", {**auth, **key}, 200


def _client(target: Target, phase: str, stop: float, seed: int, out: list, errors: dict, kinds: dict, lock) -> None:
    parsed = urlparse(target.url)
    rng = random.Random(seed)
    conn = None
    latencies, my_errors, my_kinds = [], {}, {}
    while time.monotonic() < stop:
        kind, path, headers, expected = _requests_for(target, phase, rng)
        started = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status == expected:
                latencies.append(time.monotonic() - started)
                my_kinds.setdefault(kind, []).append(latencies[-1])
            else:
                label = f"{kind}:{response.status}"
                my_errors[label] = my_errors.get(label, 0) + 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            label = f"{kind}:{type(exc).__name__}"
            my_errors[label] = my_errors.get(label, 0) + 1
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()
    with lock:
        out.extend(latencies)
        for label, count in my_errors.items():
            errors[label] = errors.get(label, 0) + count
        for kind, times in my_kinds.items():
            kinds.setdefault(kind, []).extend(times)


def rss_of_group(pgid: int | None) -> int:
    """Total resident memory of the processes in a process group (gunicorn master and workers)."""
    if not pgid:
        return 0
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def run_load(target: Target, *, phase: str, clients: int, seconds: float, server_pgid: int | None = None) -> Result:
    """`clients` threads, each with one keep-alive connection, for `seconds`."""
    out, errors, kinds, lock = [], {}, {}, threading.Lock()
    rss_before = rss_of_group(server_pgid)
    peak = [rss_before]
    stop = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_client, args=(target, phase, stop, i, out, errors, kinds, lock), daemon=True)
        for i in range(clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        peak[0] = max(peak[0], rss_of_group(server_pgid))
        time.sleep(0.5)
    for thread in threads:
        thread.join()
    return Result(phase, clients, time.monotonic() - started, out, errors, kinds, rss_before, peak[0])


# --- the profile ----------------------------------------------------------------------------------

# The view a sampled stack runs in names the request kind.
KIND_FRAMES = (
    ("_ticket", "ticket"),
    ("FileStream", "range"),
    ("DatasetListView", "listing"),
    # DRF authenticates in dispatch, before the view's own method: counted apart, for all kinds.
    ("PassportAuthentication.authenticate", "authentication (all kinds)"),
    ("WSGIHandler.__call__", "outside the views (middleware, all kinds)"),
)
# Library buckets, by a piece of the file path of a frame.
LIBRARIES = (
    ("/joserfc/", "joserfc (JWT verify)"),
    ("/cryptography/", "cryptography (RSA)"),
    ("/psycopg/", "psycopg (PostgreSQL round trips)"),
    ("/django/db/", "django.db (ORM, SQL compile)"),
    ("/django/template", "django templates"),
    ("/rest_framework/", "DRF"),
    ("/botocore/", "botocore (S3 calls)"),
    ("/boto3/", "boto3"),
    ("/urllib3/", "urllib3 (HTTP to S3)"),
    ("/nacl/", "PyNaCl (Crypt4GH)"),
    ("/crypt4gh/", "crypt4gh"),
    ("/pydantic", "pydantic"),
    ("/logging/", "logging"),
    ("/json/", "json"),
    ("/gunicorn/", "gunicorn"),
    ("/redis/", "redis (cache)"),
    ("/prometheus_client/", "prometheus_client"),
)


def _frame_name(frame: str) -> tuple[str, str]:
    """py-spy raw frame `function (path:line)` -> (function, path)."""
    name, _, rest = frame.partition(" (")
    file = rest.rsplit(":", 1)[0]
    return name, file if file.startswith("/") else "/" + file  # py-spy shortens site-packages paths


def summarise_profile(path: Path, top: int = 14) -> dict:
    """Per request kind: samples, and the inclusive share of our functions and library buckets."""
    kinds: dict[str, dict] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        kind = next((k for marker, k in KIND_FRAMES if any(marker in f for f in frames)), None)
        if kind is None:
            continue  # idle threads, the master, other work
        entry = kinds.setdefault(kind, {"samples": 0, "frames": {}})
        entry["samples"] += int(count)
        seen = set()
        for frame in frames:
            name, file = _frame_name(frame)
            label = None
            if "/gdi_archive/" in file:
                label = f"{file.split('/gdi_archive/', 1)[1].removesuffix('.py').replace('/', '.')}.{name}"
            else:
                label = next((bucket for piece, bucket in LIBRARIES if piece in file), None)
            if label and label not in seen:
                seen.add(label)
                entry["frames"][label] = entry["frames"].get(label, 0) + int(count)
    out = {}
    for kind, entry in sorted(kinds.items()):
        ranked = sorted(entry["frames"].items(), key=lambda item: -item[1])
        # Frames on every sample of the kind (the view itself, the middleware) say nothing.
        ranked = [(label, n) for label, n in ranked if n < entry["samples"] * 0.995][:top]
        out[kind] = {
            "samples": entry["samples"],
            "top": [[label, round(n / entry["samples"], 3)] for label, n in ranked],
        }
    return out


def print_profile(profile: dict) -> None:
    for kind, entry in profile.items():
        print(f"profile {kind}: {entry['samples']} samples; inclusive share of the request's samples")
        for label, share in entry["top"]:
            print(f"    {share * 100:5.1f}%  {label}")


# --- the stack ------------------------------------------------------------------------------------


def seed(stack, folder: Path) -> Target:
    """A small synthetic BAM and its index, ingested by the worker; alice is entitled to them."""
    import requests
    from crypt4gh import lib as c4gh_lib

    from gdi_archive.crypt4gh.keys import parse_public_key
    from tests.downloads import genomic_data
    from tests.reliability.stack import inbox_entry, publish, wait_for

    root = stack.session("root")
    archive_pub = parse_public_key(requests.get(stack.url + "/api/archive-key", timeout=10).text)
    bam = genomic_data.make_bam(folder, reads_per_ref=3000, unmapped=10)
    names = []
    for path in (bam, bam.with_name(bam.name + ".bai")):
        encrypted = path.with_name(path.name + ".c4gh")
        with open(path, "rb") as source, open(encrypted, "wb") as target:
            c4gh_lib.encrypt([(0, os.urandom(32), archive_pub)], source, target)
        response = root.put(f"{stack.url}/api/inbox/{encrypted.name}", data=encrypted.read_bytes(), timeout=60)
        assert response.status_code == 201, response.text
        names.append(encrypted.name)
    entries = [
        wait_for(
            lambda n=n: (e := inbox_entry(root, stack.url, n)) and e["status"] in ("ready", "error") and e,
            120,
            f"{n} to be archived",
        )
        for n in names
    ]
    assert all(e["status"] == "ready" for e in entries), entries
    publish(stack, [entries[0]["accession"]])
    time.sleep(1.1)  # tokens carry whole-second times
    client_pk = os.urandom(32)
    from crypt4gh import sodium

    return Target(
        url=stack.url,
        token=stack.token("alice"),
        bam=entries[0]["accession"],
        key_b64=base64.b64encode(sodium.derive_pk(client_pk)).decode(),
        plaintext_size=bam.stat().st_size,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last")
    parser.add_argument("--profile", help="py-spy collapsed stacks of the mix phase to this file, and a summary")
    parser.add_argument("--rate", type=int, default=97, help="py-spy samples per second (with --profile)")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    work = Path(tempfile.mkdtemp(prefix="gdi-load-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gdi_archive.settings")
    os.environ.setdefault("DATA_DIR", str(work / "bench-data"))
    import subprocess

    from tests.seaweedfs import SeaweedFS
    from tests.stack.test_production_stack import Stack

    store = SeaweedFS()
    stack = None
    try:
        store.start()
        (work / "stack").mkdir()
        stack = Stack(work / "stack", store.endpoint)
        stack.env.pop("GUNICORN_WORKERS")  # deploy/gunicorn.conf.py defaults: 2 x cores + 1 workers, 8 threads
        stack.env.pop("GUNICORN_THREADS")
        stack.env["LOG_LEVEL"] = "WARNING"
        stack.manage_user = stack.manage
        stack.up()
        stack.manage(
            "shell", "-c", "from gdi_archive.accounts.models import User\nUser.objects.get_or_create(username='bob')"
        )
        from tests.reliability.stack import ReliabilityStack as _R

        stack.session = _R.session.__get__(stack)
        stack.token = _R.token.__get__(stack)
        (work / "data").mkdir(exist_ok=True)
        target = seed(stack, work / "data")
        pgid = stack.processes["web"].pid
        cores = os.cpu_count()
        print(f"gunicorn on {stack.url}: deploy/gunicorn.conf.py defaults, {cores} cores shared with the clients")
        run_load(target, phase="mix", clients=10, seconds=3, server_pgid=pgid)  # warm up caches and connections
        profiler = None
        if args.profile:
            profiler = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--pid",
                    str(pgid),
                    "--subprocesses",
                    "--nonblocking",
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(int(args.seconds)),
                    "--format",
                    "raw",
                    "--output",
                    args.profile,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
        results = [run_load(target, phase="mix", clients=args.clients, seconds=args.seconds, server_pgid=pgid)]
        profile = None
        if profiler is not None:
            profiler.wait(timeout=args.seconds + 120)
            profile = summarise_profile(Path(args.profile))
            print_profile(profile)
        results.append(run_load(target, phase="live", clients=args.clients, seconds=args.seconds, server_pgid=pgid))
        for result in results:
            s = result.summary()
            print(
                f"{s['phase']:>5}: {s['clients']} clients x {s['seconds']} s  {s['requests_per_second']:8.1f} req/s  "
                f"p50 {s['p50_ms']:7.1f} ms  p99 {s['p99_ms']:7.1f} ms  ok {s['ok']}  errors {sum(s['errors'].values())} "
                f"{s['errors'] or ''}  server RSS {s['server_rss_before_mib']} -> peak {s['server_rss_peak_mib']} MiB  "
                f"{ {k: v['p50_ms'] for k, v in s['by_kind'].items()} } (p50 ms by kind)"
            )
        mix, live = results
        print(
            f"ratio mix/live: {mix.rate / live.rate:.2f} (the cost of authorisation, re-encryption and storage reads)"
        )
        if args.json:
            figures = {"mix": mix.summary(), "live": live.summary(), "ratio": round(mix.rate / live.rate, 3)}
            if profile is not None:
                figures["profile"] = profile
            print(json.dumps(figures))
    finally:
        if stack is not None:
            stack.down()
        store.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()

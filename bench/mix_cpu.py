"""CPU time and statements per authorised request, per kind, in-process: a figure the neighbours
on a shared machine do not move (unlike bench/load.py's requests per second).

    .venv/bin/python bench/mix_cpu.py [--requests 300] [--profile 15] [--json] [--s3 http://127.0.0.1:PORT]

Creates a scratch PostgreSQL database (`mix_cpu_<random>`, dropped at the end; Redis as the
cache, local disk as the archive store, or with --s3 buckets on that S3 server, e.g. a
`python -m tests.seaweedfs`: this process's CPU then includes its S3 client), ingests a synthetic indexed BAM through the real
pipeline into a released dataset (plus two more datasets, so the token grants three), entitles
`alice` and mints her a passport token (POST /api/tokens's service). Then, through the whole
Django stack (django.test.Client, no network), `--requests` calls of each kind of
bench/load.py's mix, every one with the bearer token:
  - ticket:  GET /api/files/{acc}/header (a download ticket: grant check, header, audit)
  - range:   GET /api/files/{acc}?start=&end= (a new 4 KiB range each time: header + one segment)
  - htsget:  GET /htsget/reads/{acc}?encryptionScheme=C4GH&referenceName=&start=&end= (20 kb)
  - listing: GET /api/datasets
For each kind: CPU ms per request (time.process_time of this process, which runs the server
code and the client; PostgreSQL's and Redis's own CPU are not counted), statements per request
(CaptureQueriesContext), and, with --profile N, the N largest cumulative costs (cProfile).

--json: the last line is {"kinds": {kind: {"cpu_ms", "cpu_ms_best", "queries", "wall_ms"}},
"mix_cpu_ms", "mix_cpu_ms_best", "requests"}; mix_cpu_ms is the mean weighted as load.py's mix
(htsget tickets, ranges and listings a third each; the download ticket is measured but not in
that mix); the _best figures are of the least-disturbed of --chunks stretches of each kind's calls
(neighbours on a shared machine only ever add CPU time).
"""

import argparse
import base64
import cProfile
import io
import json
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _setup(database: str, s3: str | None = None) -> None:
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    for name in ("STORAGE_URL", "INBOX_URL", "OUTBOX_URL", "C4GH_SECRET_KEY_FILE"):
        os.environ.pop(name, None)
    if s3:  # the archive, inbox and outbox in fresh buckets of that S3 server (SeaweedFS's "testing" keys)
        run = uuid.uuid4().hex[:8]
        os.environ.update(
            {
                "STORAGE_URL": f"s3://mixcpu-archive-{run}",
                "INBOX_URL": f"s3://mixcpu-inbox-{run}",
                "OUTBOX_URL": f"s3://mixcpu-outbox-{run}",
                "S3_ENDPOINT_URL": s3,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            }
        )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if s3:
        from gdi_archive.storage import ensure_stores_ready

        ensure_stores_ready()


def seed(folder: Path) -> dict:
    from django.contrib.auth.models import Group

    from gdi_archive.accounts.models import STEWARDS_GROUP, User
    from gdi_archive.catalogue.models import DAC, File
    from gdi_archive.passports import services
    from tests.downloads import genomic_data
    from tests.downloads.conftest import entitle, release, store_ready_file

    steward = User.objects.create_user("sam", password="bench-password-12345", is_staff=True)
    steward.groups.add(Group.objects.get_or_create(name=STEWARDS_GROUP)[0])
    alice = User.objects.create_user("alice", password="bench-password-12345")
    dac = DAC.objects.create(name="Bench DAC", contact_email="dac@example.org")
    bam = genomic_data.make_bam(folder, reads_per_ref=3000, unmapped=10)
    data = store_ready_file(submitter=steward, path=bam, name="reads.bam", fmt=File.Format.BAM)
    store_ready_file(submitter=steward, path=bam.with_name(bam.name + ".bai"), name="reads.bam.bai", index_of=data)
    entitle(alice, release(dac=dac, steward=steward, files=[data], title="Bench set"))
    for n in range(2):
        entitle(alice, release(dac=dac, steward=steward, files=[], title=f"Other set {n}"))
    time.sleep(1.1)  # tokens carry whole-second times, the entitlements started a minute ago
    token, _ = services.mint_passport_token(user=alice)
    from crypt4gh import sodium

    key = base64.b64encode(sodium.derive_pk(os.urandom(32))).decode()
    return {"token": token, "bam": data.accession, "size": data.plaintext_size, "key": key}


def requests_of(kind: str, target: dict, n: int, rng: random.Random) -> list[tuple[str, dict]]:
    auth = {"HTTP_AUTHORIZATION": f"Bearer {target['token']}"}
    key = {"HTTP_X_C4GH_PUBLIC_KEY": target["key"]}
    out = []
    for _ in range(n):
        if kind == "ticket":
            out.append((f"/api/files/{target['bam']}/header", {**auth, **key}))
        elif kind == "range":
            start = rng.randrange(0, max(1, target["size"] - 4096))
            out.append((f"/api/files/{target['bam']}?start={start}&end={start + 4096}", {**auth, **key}))
        elif kind == "htsget":
            name, length = rng.choice([("chr1", 2_000_000), ("chr2", 1_000_000)])
            start = rng.randrange(0, length - 20_000)
            query = f"encryptionScheme=C4GH&referenceName={name}&start={start}&end={start + 20_000}"
            out.append((f"/htsget/reads/{target['bam']}?{query}", {**auth, **key}))
        else:
            out.append(("/api/datasets", auth))
    return out


def call(client, path: str, headers: dict) -> None:
    response = client.get(path, **headers)
    if response.status_code != 200:
        raise SystemExit(f"{path}: {response.status_code} {response.content[:300]!r}")
    if getattr(response, "streaming", False):
        for _ in response.streaming_content:
            pass


def measure(kind: str, target: dict, n: int, profile: int, chunks: int = 1) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    rng = random.Random(15)
    client = Client()
    for path, headers in requests_of(kind, target, 20, random.Random(99)):  # warm caches (the verified passport)
        call(client, path, headers)
    calls = requests_of(kind, target, n, rng)
    with CaptureQueriesContext(connection) as queries:
        call(client, *calls[0])
    statements = [q["sql"] for q in queries.captured_queries]
    calls = calls[1:]
    size = max(1, len(calls) // chunks)
    wall, cpu, best = 0.0, 0.0, None
    for start in range(0, len(calls), size):
        chunk = calls[start : start + size]
        wall_at, cpu_at = time.perf_counter(), time.process_time()
        for path, headers in chunk:
            call(client, path, headers)
        spent = time.process_time() - cpu_at
        wall += time.perf_counter() - wall_at
        cpu += spent
        if len(chunk) == size:
            best = spent / size if best is None else min(best, spent / size)
    result = {
        "cpu_ms": round(cpu * 1000 / len(calls), 2),
        # The best chunk's mean: neighbours on a shared machine only ever add CPU time (cache
        # misses, frequency), so the least-disturbed stretch is the steadiest figure to compare.
        "cpu_ms_best": round(best * 1000, 2),
        "wall_ms": round(wall * 1000 / len(calls), 2),
        "queries": len(statements),
        "statements": statements,
    }
    if profile:
        profiler = cProfile.Profile(time.process_time)  # CPU, not waits on PostgreSQL
        profiler.enable()
        for path, headers in requests_of(kind, target, min(n, 200), random.Random(7)):
            call(client, path, headers)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(profile * 4)
        result["profile"] = text.getvalue()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="calls per kind")
    parser.add_argument("--kinds", default="ticket,range,htsget,listing")
    parser.add_argument("--chunks", type=int, default=5, help="also report the best of this many stretches")
    parser.add_argument("--profile", type=int, default=0, help="print the N top cumulative costs per kind")
    parser.add_argument("--sql", action="store_true", help="print each kind's statements")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--s3", metavar="ENDPOINT", help="keep the archive in this S3 server (keys 'testing')")
    args = parser.parse_args()
    database = f"mix_cpu_{uuid.uuid4().hex[:8]}"
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", database], check=True)
    try:
        _setup(database, args.s3)
        with tempfile.TemporaryDirectory(prefix="mix-cpu-") as folder:
            target = seed(Path(folder))
            kinds = {
                kind: measure(kind, target, args.requests, args.profile, args.chunks) for kind in args.kinds.split(",")
            }
        from django.db import connections

        connections.close_all()
    finally:
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", database], check=False)
    for kind, figures in kinds.items():
        print(
            f"{kind:8} {figures['cpu_ms']:7.2f} ms CPU (best stretch {figures['cpu_ms_best']:.2f})"
            f"  {figures['wall_ms']:7.2f} ms wall  {figures['queries']} queries"
        )
        if args.sql:
            for sql in figures["statements"]:
                print("    ", sql[:400])
        if args.profile:
            print(figures["profile"])
    weights = {"htsget": 1 / 3, "range": 1 / 3, "listing": 1 / 3}
    present = {k: w for k, w in weights.items() if k in kinds}
    mix = sum(kinds[k]["cpu_ms"] * w for k, w in present.items()) / sum(present.values())
    mix_best = sum(kinds[k]["cpu_ms_best"] * w for k, w in present.items()) / sum(present.values())
    print(f"mix      {mix:7.2f} ms CPU per request (best stretches {mix_best:.2f}; weighted as bench/load.py's mix)")
    if args.json:
        summary = {k: {f: v[f] for f in ("cpu_ms", "cpu_ms_best", "wall_ms", "queries")} for k, v in kinds.items()}
        print(
            json.dumps(
                {
                    "kinds": summary,
                    "mix_cpu_ms": round(mix, 2),
                    "mix_cpu_ms_best": round(mix_best, 2),
                    "requests": args.requests,
                }
            )
        )


if __name__ == "__main__":
    main()

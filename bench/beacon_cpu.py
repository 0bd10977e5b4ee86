"""CPU per Beacon query, in-process: what one request costs the web tier, whatever the neighbours do.

    .venv/bin/python bench/beacon_cpu.py [--variants 200000] [--requests 500] [--freeze] [--profile out.prof] [--json]

The data shape of bench/beacon.py (10 datasets, 500 samples each, SNVs spread over the
autosomes), filled with the loader's own COPY into DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/beacon_fast_bench; created if missing, its Beacon tables
emptied first; --reuse keeps rows already there). Then --requests POSTs to /beacon/v2/g_variants
through django.test.Client (the whole middleware stack, DEBUG off, a passport token minted here,
`requestedGranularity: count`) for single positions and for 1 Mb regions: time.process_time
per request (this process only: Django, the Beacon and psycopg, not PostgreSQL's backend),
SQL statements per request (CaptureQueriesContext), and with --profile a cProfile of the
position requests (top 25 by cumulative time printed).
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/beacon_fast_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=200_000)
    parser.add_argument("--datasets", type=int, default=10)
    parser.add_argument("--requests", type=int, default=500, help="per kind")
    parser.add_argument("--reuse", action="store_true", help="keep the variants already loaded")
    parser.add_argument("--profile", help="write a cProfile of the requests of --profile-kind here")
    parser.add_argument("--profile-kind", choices=("position", "region"), default="position")
    parser.add_argument(
        "--freeze", action="store_true", help="gc.freeze() after warming up, as each gunicorn worker does (deploy/)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    work = Path(tempfile.mkdtemp(prefix="gdi-bench-beacon-cpu-"))
    env = {
        "DJANGO_SETTINGS_MODULE": "gdi_archive.settings",
        "DATABASE_URL": url,
        "DATA_DIR": str(work / "data"),
        "BASE_URL": "http://127.0.0.1:8000",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "BEACON_QUERY_BUDGET": str(10**9),
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        "CACHE_KEY_PREFIX": f"gdi-bench-beacon-cpu-{os.getpid()}",
    }
    import beacon_data as bench  # the same setup and data as bench/beacon.py

    bench.create_database(url)
    bench.setup_django(env)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from gdi_archive.accounts.models import User
    from gdi_archive.beacon.models import Variant
    from gdi_archive.passports.services import mint_passport_token

    if not (args.reuse and Variant.objects.exists()):
        loads = bench.make_datasets(args.datasets, args.variants // args.datasets)
        bench.load_phase(loads, args.variants // args.datasets)
    user, _ = User.objects.get_or_create(username="bench-beacon")
    token, _ = mint_passport_token(user=user)
    rng = random.Random(42)
    kinds = {
        "position": bench.bodies("position", args.requests, rng),
        "region": bench.bodies("region", args.requests, rng),
    }
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def post(body):
        response = client.post("/beacon/v2/g_variants", body, content_type="application/json")
        assert response.status_code == 200, response.content[:300]
        return response

    if args.freeze:  # what deploy/gunicorn.conf.py's post_worker_init does once the app is loaded
        import gc

        for requests in kinds.values():
            post(requests[0])
        gc.collect()
        gc.freeze()
    results = {}
    for kind, requests in kinds.items():
        for body in requests[:20]:  # warm: connections, caches, the verified passport
            post(body)
        counts, found = [], []
        for body in requests[:50]:
            with CaptureQueriesContext(connection) as captured:
                response = post(body)
            counts.append(len(captured.captured_queries))
            found.append(response.json()["responseSummary"].get("numTotalResults", 0))
        cpu, wall = [], []
        for body in requests:
            c, w = time.process_time(), time.perf_counter()
            post(body)
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - w)
        results[kind] = {
            "requests": len(requests),
            "cpu_ms_mean": round(statistics.fmean(cpu) * 1000, 3),
            "cpu_ms_median": round(statistics.median(cpu) * 1000, 3),
            "wall_ms_median": round(statistics.median(wall) * 1000, 3),
            "statements_per_request": round(statistics.fmean(counts), 2),
            "mean_results": round(statistics.fmean(found), 1),
        }
        print(
            f"{kind:>8}: CPU {results[kind]['cpu_ms_mean']:.2f} ms/request (median {results[kind]['cpu_ms_median']:.2f}),"
            f" wall median {results[kind]['wall_ms_median']:.2f} ms, {results[kind]['statements_per_request']} SQL"
            f" statements per request, {results[kind]['mean_results']} variants found on average"
        )
    # Where a position request's CPU goes, part by part (the same machine, the same minute).
    from gdi_archive.audit import services as audit
    from gdi_archive.passports.clearinghouse import authenticate_token

    live = Client()

    def cpu_of(call, n=args.requests) -> float:
        for _ in range(20):
            call()
        started = time.process_time()
        for _ in range(n):
            call()
        return round((time.process_time() - started) / n * 1000, 3)

    parts = {
        "health_live_request": cpu_of(lambda: live.get("/health/live")),
        "passports_authenticate_token": cpu_of(lambda: authenticate_token(token)),
        "audit_record": cpu_of(lambda: audit.record(action="bench.beacon_cpu", actor="bench", details={"n": 1})),
    }
    print(
        "parts (CPU ms per call): "
        + ", ".join(f"{name} {value:.2f}" for name, value in parts.items())
        + " (GET /health/live: the middleware and the test client, no view work)"
    )
    results["parts"] = parts
    if args.profile:
        profile = cProfile.Profile(time.process_time)  # CPU time, not waits on PostgreSQL
        profile.enable()
        for body in kinds[args.profile_kind]:
            post(body)
        profile.disable()
        profile.dump_stats(args.profile)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(40)
        print(out.getvalue())
    if args.json:
        print(json.dumps({"variants": Variant.objects.count(), "queries": results}))


if __name__ == "__main__":
    main()

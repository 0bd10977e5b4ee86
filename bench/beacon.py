"""Beacon v2 at scale: loading variants through the archive's own COPY, then position and 1 Mb
region queries over HTTP under concurrent clients, each next to its bare PostgreSQL equivalent.

    .venv/bin/python bench/beacon.py [--variants 10000000] [--datasets 10] [--clients 50] [--seconds 30] [--json]

PostgreSQL only: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/gdi_bench_beacon; the
database is created if missing and migrated; its Beacon tables are emptied first).

Figures:
  - load: rows/s of `beacon.loading.copy_rows` (the loader's `COPY` into beacon_variant, with its
    indexes, constraints and commits every 20,000 rows) for --variants rows across --datasets
    datasets, next to a bare `COPY` of the same rows (the same generator) into a plain table with
    the same columns and no index, dataset by dataset in turn (the machine is shared: both see
    the same load). load_ratio = loader rows/s / bare rows/s.
  - query: --clients threads, each with a keep-alive connection, POST /beacon/v2/g_variants to
    gunicorn (deploy/gunicorn.conf.py, its default workers and threads) with a passport token and
    `requestedGranularity: count` (what the portal asks) for --seconds: single positions (an
    existing variant's chromosome, start, ref and alt), then 1 Mb regions. Next to it, the same
    SQL run bare from --clients psycopg connections: every statement each request runs (the
    passport token's lookup, the released datasets, the variants, the audit INSERT, captured
    from the archive itself with their parameters; the INSERT goes to a plain copy of the audit
    table), and the variant statement alone. queries/s, p50, p99; query_ratio = Beacon / bare
    SQL (every statement), the lower of the two kinds; p99_ms the higher of the two.
  - SQL statements per Beacon request (all of them: token, datasets, variants, audit), and
    GET /health/live from the same clients on the same server (the ceiling for any endpoint).
The clients run on the same machine as the server and the database and take CPU from them.
--json: the last line is {"load_ratio", "query_ratio", "p99_ms", "variants", "datasets", ...}.
Goals (issue 13): load_ratio >= 0.5, query_ratio >= 0.3, p99 < 100 ms.
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/gdi_bench_beacon"
# GRCh38 primary autosomes, lengths rounded down to the Mb: where the synthetic variants fall.
CHROMOSOMES = {
    "1": 248, "2": 242, "3": 198, "4": 190, "5": 181, "6": 170, "7": 159, "8": 145, "9": 138, "10": 133,
    "11": 135, "12": 133, "13": 114, "14": 107, "15": 101, "16": 90, "17": 83, "18": 80, "19": 58,
    "20": 64, "21": 46, "22": 50,
}  # fmt: skip
SAMPLES = 500  # per dataset: the carrier bitmap is 63 bytes
BARE_TABLE = "bench_bare_variant"
AUDIT_TABLE = "audit_auditevent"
BARE_AUDIT = "bench_bare_audit"


# --- setup ------------------------------------------------------------------------------------------


def _database(url: str) -> None:
    """Create the bench database if it is missing."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres".replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("bootstrap", "--no-demo", verbosity=0, stdout=open(os.devnull, "w"))


def _datasets(count: int, n_variants: int) -> list:
    """`count` released datasets, each with one VCF file row and one live VariantLoad (rows follow)."""
    from gdi_archive.accounts.models import User
    from gdi_archive.beacon.models import Individual, Variant, VariantLoad
    from gdi_archive.catalogue.models import DAC, Dataset, File

    Variant.objects.all()._raw_delete(Variant.objects.db)
    VariantLoad.objects.all().delete()
    Individual.objects.all().delete()
    Dataset.objects.filter(title__startswith="Beacon bench").update(status=Dataset.Status.WITHDRAWN)
    user, _ = User.objects.get_or_create(username="bench-beacon")
    dac, _ = DAC.objects.get_or_create(name="Beacon bench DAC", defaults={"contact_email": "dac@example.org"})
    loads = []
    stamp = int(time.time())
    for n in range(count):
        dataset = Dataset.objects.create(
            title=f"Beacon bench {stamp}-{n}", dac=dac, status=Dataset.Status.RELEASED, duo=["DUO:0000042"]
        )
        file = File.objects.create(
            submitter=user,
            inbox_name=f"bench-{stamp}-{n}.vcf.gz.c4gh",
            name=f"bench-{stamp}-{n}.vcf.gz",
            format=File.Format.VCF,
            status=File.Status.READY,
        )
        dataset.files.add(file)
        samples = [f"B{n}-{s:04d}" for s in range(SAMPLES)]
        loads.append(
            VariantLoad.objects.create(
                dataset=dataset,
                file=file,
                status=VariantLoad.Status.DONE,
                assembly="GRCh38",
                samples=samples,
                generation=1,
                live_generation=1,
                variants=n_variants,
            )
        )
    return loads


def _pool(rng: random.Random, size: int = 997) -> list[tuple]:
    """Aggregates to cycle through: (ac, an, af, populations JSON, carrier bitmap)."""
    pool = []
    an = 2 * SAMPLES
    for _ in range(size):
        ac = rng.choice([1, 3, 8, 20, 60, 150, 400])
        pops = {}
        for name, share in (("F", 0.5), ("M", 0.5), ("EE", 0.8), ("FI", 0.2), ("EE_F", 0.4), ("EE_M", 0.4)):
            pops[name] = [round(ac * share), round(an * share)]
        bits = bytearray((SAMPLES + 7) // 8)
        for column in rng.sample(range(SAMPLES), min(SAMPLES, ac)):
            bits[column >> 3] |= 1 << (column & 7)
        pool.append((ac, an, ac / an, json.dumps(pops, separators=(",", ":")), bytes(bits)))
    return pool


def rows_for(load, n: int, seed: int, pool: list[tuple]):
    """`n` SNV rows (COLUMNS order) for one dataset, sorted by chromosome and position."""
    rng = random.Random(seed)
    total = sum(CHROMOSOMES.values())
    written = 0
    for index, (chrom, mb) in enumerate(CHROMOSOMES.items()):
        k = n - written if index == len(CHROMOSOMES) - 1 else round(n * mb / total)
        written += k
        for i, start in enumerate(sorted(rng.sample(range(10_000, mb * 1_000_000), k))):
            ref = "ACGT"[start & 3]
            alt = "CGTA"[(start >> 2) & 3] if "CGTA"[(start >> 2) & 3] != ref else "T" if ref != "T" else "A"
            ac, an, af, pops, bits = pool[(start + i) % len(pool)]
            yield (
                load.pk,
                load.dataset_id,
                1,
                "GRCh38",
                chrom,
                start,
                start + 1,
                ref,
                alt,
                "SNP",
                ac,
                an,
                af,
                pops,
                bits,
            )


def load_phase(loads, per_dataset: int) -> dict:
    """Per dataset, the loader's COPY and then a bare COPY of the same rows (interleaved, so
    both see the same machine: it is shared); rows/s of each over all datasets."""
    from django.db import connection

    from gdi_archive.beacon import loading

    pool = _pool(random.Random(1))
    columns = ", ".join(f'"{c}"' for c in loading.COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {BARE_TABLE}")
        cursor.execute(
            f"CREATE TABLE {BARE_TABLE} (load_id bigint, dataset_id bigint, generation integer, assembly varchar(16),"
            ' chrom varchar(32), start bigint, "end" bigint, ref text, alt text, variant_type varchar(8),'
            " ac integer, an integer, af double precision, populations jsonb, carriers bytea)"
        )
    loader = bare = generator = 0.0
    loaded = generated = 0
    for load in loads:
        started = time.perf_counter()
        loaded += loading.copy_rows(rows_for(load, per_dataset, load.pk, pool))
        loader += time.perf_counter() - started
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {BARE_TABLE} ({columns}) FROM STDIN") as copy:
            for row in rows_for(load, per_dataset, load.pk, pool):
                copy.write_row(row)
        bare += time.perf_counter() - started  # autocommit: the COPY is committed when it ends
        started = time.perf_counter()
        generated += sum(1 for _ in rows_for(load, per_dataset, load.pk, pool))
        generator += time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {BARE_TABLE}")
        cursor.execute("VACUUM ANALYZE beacon_variant")  # the statistics a long-lived table has
    assert loaded == generated
    return {
        "rows": loaded,
        "loader_rows_per_s": round(loaded / loader),
        "bare_copy_rows_per_s": round(loaded / bare),
        "generator_rows_per_s": round(generated / generator),
        "load_ratio": round(bare / loader, 3),
        "loader_s": round(loader, 1),
        "bare_s": round(bare, 1),
    }


# --- queries ---------------------------------------------------------------------------------------


def bodies(kind: str, count: int, rng: random.Random) -> list[dict]:
    """Beacon request bodies as the portal sends them: existing positions, or random 1 Mb regions."""
    from django.db import connection

    if kind == "position":
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(id), max(id) FROM beacon_variant")
            low, high = cursor.fetchone()
            cursor.execute(
                "SELECT chrom, start, ref, alt FROM beacon_variant WHERE id = ANY(%s) AND ac >= 5",
                [[rng.randint(low, high) for _ in range(count * 3)]],
            )
            picked = cursor.fetchall()[:count]
        params = [
            {"referenceName": c, "start": s, "referenceBases": r, "alternateBases": a, "assemblyId": "GRCh38"}
            for c, s, r, a in picked
        ]
    else:
        params = []
        for _ in range(count):
            chrom = rng.choices(list(CHROMOSOMES), weights=list(CHROMOSOMES.values()))[0]
            start = rng.randrange(0, (CHROMOSOMES[chrom] - 1) * 1_000_000)
            params.append({"referenceName": chrom, "start": start, "end": start + 1_000_000, "assemblyId": "GRCh38"})
    return [
        {"meta": {"apiVersion": "2.0"}, "query": {"requestParameters": p, "requestedGranularity": "count"}}
        for p in params
    ]


def capture_sql(token: str, requests: list[dict]) -> tuple[list[list[str]], float, list[int]]:
    """The Beacon's own SQL for each request (statements on beacon_variant), statements per
    request, and the answers' result counts (so the bench shows the queries find something)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    statements, per_request, found = [], [], []
    for body in requests:
        with CaptureQueriesContext(connection) as captured:
            response = client.post(
                "/beacon/v2/g_variants", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
            )
        assert response.status_code == 200, response.content[:300]
        found.append(response.json()["responseSummary"].get("numTotalResults", 0))
        per_request.append(len(captured.captured_queries))
        statements.append([bare_statement(q["sql"]) for q in captured.captured_queries])
    return statements, statistics.fmean(per_request), found


def bare_statement(sql: str) -> str:
    """A captured statement as the bare clients run it: reads as they are; the audit INSERT into
    a plain copy of the audit table (no chain, no triggers, no indexes), so the log stays whole."""
    return sql.replace(f"INSERT INTO {AUDIT_TABLE} ", f"INSERT INTO {BARE_AUDIT} ", 1)


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _summary(name: str, latencies: list[float], errors: dict, seconds: float) -> dict:
    return {
        "phase": name,
        "ok": len(latencies),
        "errors": errors,
        "queries_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(_percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 1),
    }


def _run_threads(worker, clients: int, seconds: float) -> tuple[list[float], dict, float]:
    out, errors, lock = [], {}, threading.Lock()
    stop = time.monotonic() + seconds
    threads = [threading.Thread(target=worker, args=(i, stop, out, errors, lock), daemon=True) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out, errors, time.monotonic() - started


def http_phase(port: int, token: str, requests: list[dict], clients: int, seconds: float, live=False) -> tuple:
    """POST the requests to /beacon/v2/g_variants; `live`: GET /health/live instead (no token,
    no database: what the server does for a trivial request, the ceiling for any endpoint)."""
    encoded = [json.dumps(b).encode() for b in requests]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def worker(i, stop, out, errors, lock):
        rng = random.Random(i)
        conn, mine, bad = None, [], {}
        while time.monotonic() < stop:
            body = rng.choice(encoded)
            started = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                if live:
                    conn.request("GET", "/health/live")
                else:
                    conn.request("POST", "/beacon/v2/g_variants", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    mine.append(time.monotonic() - started)
                else:
                    bad[str(response.status)] = bad.get(str(response.status), 0) + 1
            except (OSError, http.client.HTTPException) as exc:
                bad[type(exc).__name__] = bad.get(type(exc).__name__, 0) + 1
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()
        with lock:
            out.extend(mine)
            for k, v in bad.items():
                errors[k] = errors.get(k, 0) + v

    return _run_threads(worker, clients, seconds)


def sql_phase(url: str, statements: list[list[str]], clients: int, seconds: float) -> tuple:
    import psycopg

    def worker(i, stop, out, errors, lock):
        rng = random.Random(i)
        mine, bad = [], {}
        for attempt in range(20):  # the database is shared: wait for a free connection slot
            try:
                conn = psycopg.connect(url, autocommit=True)
                break
            except psycopg.OperationalError:
                time.sleep(0.2 * (attempt + 1))
        else:
            with lock:
                errors["no connection"] = errors.get("no connection", 0) + 1
            return
        with conn:
            while time.monotonic() < stop:
                group = rng.choice(statements)
                started = time.monotonic()
                try:
                    for sql in group:
                        cursor = conn.execute(sql)
                        if cursor.description is not None:
                            cursor.fetchall()
                except psycopg.Error as exc:
                    bad[type(exc).__name__] = bad.get(type(exc).__name__, 0) + 1
                    continue
                mine.append(time.monotonic() - started)
        with lock:
            out.extend(mine)
            for k, v in bad.items():
                errors[k] = errors.get(k, 0) + v

    return _run_threads(worker, clients, seconds)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, port: int, log: Path) -> subprocess.Popen:
    server_env = {**os.environ, **env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        [str(REPO / ".venv/bin/gunicorn"), "-c", str(REPO / "deploy/gunicorn.conf.py"), "gdi_archive.wsgi"],
        cwd=REPO,
        env=server_env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/beacon/v2/info")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"gunicorn did not start; see {log}:\n{log.read_text()[-2000:]}")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="gdi-bench-beacon-"))
    try:
        run(work)
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


def run(work: Path) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=10_000_000, help="rows in all (default 10,000,000)")
    parser.add_argument("--datasets", type=int, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20, help="per query phase")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the server

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/beacon.py measures PostgreSQL: set DATABASE_URL to a postgres:// URL")
    _database(url)
    port = _free_port()
    env = {
        "DJANGO_SETTINGS_MODULE": "gdi_archive.settings",
        "DATABASE_URL": url,
        "DATA_DIR": str(work / "data"),
        "BASE_URL": f"http://127.0.0.1:{port}",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "BEACON_QUERY_BUDGET": str(10**9),
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        "CACHE_KEY_PREFIX": f"gdi-bench-beacon-{os.getpid()}",
    }
    _setup(env)
    from gdi_archive.accounts.models import User
    from gdi_archive.passports.services import mint_passport_token

    per_dataset = args.variants // args.datasets
    loads = _datasets(args.datasets, per_dataset)
    print(f"loading {per_dataset * args.datasets:,} variants into {args.datasets} datasets ({url.rsplit('@', 1)[-1]})")
    load = load_phase(loads, per_dataset)
    print(
        f"load: loader (copy_rows) {load['loader_rows_per_s']:,} rows/s ({load['loader_s']} s), "
        f"bare COPY {load['bare_copy_rows_per_s']:,} rows/s ({load['bare_s']} s), "
        f"ratio {load['load_ratio']:.2f} (goal >= 0.5); the row generator alone: {load['generator_rows_per_s']:,} rows/s"
    )

    user, _ = User.objects.get_or_create(username="bench-beacon")
    token, _ = mint_passport_token(user=user)
    rng = random.Random(42)
    kinds = {"position": bodies("position", 400, rng), "region": bodies("region", 400, rng)}
    captured = {kind: capture_sql(token, requests) for kind, requests in kinds.items()}
    from django.db import connection, connections

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {BARE_AUDIT}")
        cursor.execute(f"CREATE TABLE {BARE_AUDIT} AS SELECT * FROM {AUDIT_TABLE} WITH NO DATA")  # no constraints
    connections.close_all()
    server = start_server(env, port, work / "gunicorn.log")
    beacon = {}
    try:
        http_phase(port, token, kinds["position"], 10, 3)  # warm up the workers and their connections
        for kind, requests in kinds.items():
            latencies, errors, elapsed = http_phase(port, token, requests, args.clients, args.seconds)
            beacon[kind] = _summary(f"{kind} beacon", latencies, errors, elapsed)
        latencies, errors, elapsed = http_phase(port, token, [{}], args.clients, args.seconds, live=True)
        live = _summary("live", latencies, errors, elapsed)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # its database connections go before the bare clients come
        server.wait(timeout=60)
    results = {}
    try:
        for kind in kinds:
            statements, per_request, found = captured[kind]
            latencies, errors, elapsed = sql_phase(url, statements, args.clients, args.seconds)
            bare = _summary(f"{kind} bare SQL", latencies, errors, elapsed)
            only = [[sql for sql in group if "beacon_variant" in sql] for group in statements]
            latencies, errors, elapsed = sql_phase(url, only, args.clients, args.seconds)
            variant_sql = _summary(f"{kind} bare variant SQL", latencies, errors, elapsed)
            results[kind] = {
                "beacon": beacon[kind],
                "bare_sql": bare,
                "bare_variant_sql": variant_sql,
                "ratio": round(beacon[kind]["queries_per_s"] / bare["queries_per_s"], 3)
                if bare["queries_per_s"]
                else None,
                "sql_statements_per_request": round(per_request, 1),
                "variant_statements_per_request": round(
                    statistics.fmean(sum("beacon_variant" in sql for sql in group) for group in statements), 1
                ),
                "mean_results": round(statistics.fmean(found), 1),
            }
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {BARE_AUDIT}")

    for kind, r in results.items():
        b, s = r["beacon"], r["bare_sql"]
        print(
            f"{kind:>8}: Beacon {b['queries_per_s']:8.1f} q/s  p50 {b['p50_ms']:6.1f} ms  p99 {b['p99_ms']:6.1f} ms"
            f"  errors {sum(b['errors'].values())} {b['errors'] or ''}| bare SQL {s['queries_per_s']:8.1f} q/s"
            f"  p99 {s['p99_ms']:6.1f} ms | ratio {r['ratio']:.2f} | the variant statement alone"
            f" {r['bare_variant_sql']['queries_per_s']:8.1f} q/s | {r['sql_statements_per_request']} SQL statements"
            f" per request ({r['variant_statements_per_request']} on variants), {r['mean_results']} variants found on average"
        )
    print(
        f"    live: GET /health/live on the same server {live['queries_per_s']:8.1f} q/s  p99 {live['p99_ms']:6.1f} ms"
        " (no token, no database: the most any endpoint gets from this server on this machine)"
    )
    query_ratio = min(r["ratio"] for r in results.values())
    p99 = max(r["beacon"]["p99_ms"] for r in results.values())
    print(
        f"goals: load {load['load_ratio']:.2f} x bare COPY (>= 0.5), queries {query_ratio:.2f} x bare SQL (>= 0.3),"
        f" p99 {p99:.1f} ms (< 100); {os.cpu_count()} cores shared by server, database and clients"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "load_ratio": load["load_ratio"],
                    "query_ratio": query_ratio,
                    "p99_ms": p99,
                    "variants": load["rows"],
                    "datasets": args.datasets,
                    "clients": args.clients,
                    "load": load,
                    "queries": results,
                    "live": live,
                }
            )
        )


if __name__ == "__main__":
    main()

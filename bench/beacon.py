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

from beacon_data import bodies, create_database, load_phase, make_datasets, setup_django  # bench/ is on sys.path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/gdi_bench_beacon"
AUDIT_TABLE = "audit_auditevent"
BARE_AUDIT = "bench_bare_audit"


# --- queries ---------------------------------------------------------------------------------------


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
    create_database(url)
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
    setup_django(env)
    from gdi_archive.accounts.models import User
    from gdi_archive.passports.services import mint_passport_token

    per_dataset = args.variants // args.datasets
    loads = make_datasets(args.datasets, per_dataset)
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

"""How fast is the audit log? Appending (one INSERT per event, each its own committed
transaction) from `--writers` writers at once (a process each, or with `--threads N` N
threads per process, as in a gunicorn worker), sealing (the chain, by the one sealer) and
`audit_verify` walking the chain, on the embedded default (SQLite file) or on PostgreSQL when
DATABASE_URL is set. Also the verify's peak Python memory, which must not grow with the log.

    .venv/bin/python bench/audit.py [--events 20000] [--writers 8] [--threads 1] [--json]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gdi_bench .venv/bin/python bench/audit.py --writers 8

Each audited transaction commits: on a slow disk the commits, not the log, are the limit, so on
PostgreSQL the bench also measures bare one-row commits from as many writers (the ceiling).

The writer does what the requests that audit most do: a download, an htsget ticket and a Beacon
query call `record()` in autocommit (no ATOMIC_REQUESTS), so the INSERT is the transaction: one
round trip, as the bare commit. Until 2026-12-02 the writer wrapped each event in
`transaction.atomic()` (BEGIN, INSERT, COMMIT: three round trips, which only the rare requests
that record a change of their own pay, and they pay BEGIN/COMMIT for that change anyway) and ran
with DEBUG on (every query formatted and kept in memory, which production never does). That
shape is still here: `--atomic`; `--per-transaction N` records N events per transaction (a
request with several events; implies `--atomic`).

CPU per append is measured as well (neighbour-independent, unlike events/s on a shared
machine): each writer's `time.process_time()` over its loop and, when PostgreSQL runs on this
host, its server process's CPU (/proc/PID/stat); the same for the bare commits.

--json: the last line is {"writers", "threads_per_process", "appends_per_s", "seal_per_s", "verify_per_s", "database", "events",
"per_transaction", "shape", "bare_commits_per_s", "cpu_us_per_append", "backend_cpu_us_per_append",
"bare_cpu_us_per_commit", "bare_backend_cpu_us_per_commit"}.
"""

import argparse
import contextlib
import json
import multiprocessing
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _setup(data_dir: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="gdi_archive.settings", DATA_DIR=data_dir, LOG_LEVEL="ERROR", DEBUG="false"
    )
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{data_dir}/bench.sqlite3")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def _backend_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) of a PostgreSQL server process on this host, else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _writer(
    data_dir: str, events: int, offset: int, per_transaction: int, atomic: bool, threads: int, ready, start, done
) -> None:
    """One process appending `events` events as fast as it can from `threads` threads (a
    gunicorn worker's request threads), once all writers are ready: each `record()` in
    autocommit (a download, a ticket, a Beacon query), or with `atomic` `per_transaction` of
    them in one transaction. The CPU figures are the whole process's and all its server
    processes'."""
    _setup(data_dir)
    import threading

    from django.db import connection, connections, transaction

    from gdi_archive.accounts.models import User
    from gdi_archive.audit.services import record

    user = User.objects.get(username="bench")
    share = events // threads
    backends, step = [], threading.Barrier(threads + 1)  # connected, go, appended, close

    def appends(first: int, count: int) -> None:
        connection.ensure_connection()
        backends.append(_backend_pid(connection))
        step.wait()
        step.wait()
        for low in range(first, first + count, per_transaction):  # per_transaction is 1 unless atomic
            with transaction.atomic() if atomic else contextlib.nullcontext():
                for n in range(low, min(low + per_transaction, first + count)):
                    record(
                        action="bench.event", actor=user, target=user, details={"n": n, "dataset": "GDID00000000001"}
                    )
        step.wait()
        step.wait()
        connections.close_all()

    workers = [
        threading.Thread(target=appends, args=(offset + i * share, share if i < threads - 1 else events - i * share))
        for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    step.wait()  # every thread has its connection (and its server process)
    ready.put(os.getpid())
    start.wait()
    cpu, before = time.process_time(), [_backend_cpu(pid) for pid in backends]
    step.wait()
    step.wait()  # all appended
    own, after = time.process_time() - cpu, [_backend_cpu(pid) for pid in backends]
    step.wait()
    for worker in workers:
        worker.join()
    server = None if None in before or None in after else sum(a - b for a, b in zip(after, before, strict=True))
    done.put((own, server))


def _backend_pid(connection) -> int | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _cpu_figures(cpu: float, server: float | None, backend: int | None) -> tuple[float, float | None]:
    after = _backend_cpu(backend)
    return time.process_time() - cpu, (after - server) if server is not None and after is not None else None


def _bare_commit(url: str, events: int, ready, start, done) -> None:
    """The same number of one-row INSERT transactions on a bare table: what the disk allows."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        backend = conn.info.backend_pid
        ready.put(os.getpid())
        start.wait()
        cpu, server = time.process_time(), _backend_cpu(backend)
        for _ in range(events):
            conn.execute("INSERT INTO bench_bare_commit (v) VALUES (%s)", ["x"])
        done.put(_cpu_figures(cpu, server, backend))


def _run(ctx, target, writers: int, make_args) -> tuple[float, float, float | None]:
    """Wall seconds, and the writers' summed CPU seconds (own, and their server processes')."""
    ready, start, done = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*make_args(i), ready, start, done)) for i in range(writers)]
    for proc in procs:
        proc.start()
    for _ in procs:  # every writer is set up (its own django.setup and connection) before the clock starts
        ready.get(timeout=300)
    started = time.perf_counter()
    start.set()
    cpus = [done.get(timeout=600) for _ in procs]
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0, f"writer exited with {proc.exitcode}"
    servers = [server for _, server in cpus]
    return elapsed, sum(own for own, _ in cpus), None if None in servers else sum(servers)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--writers", type=int, default=1, help="writers appending at once (threads in all)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="writers per process, as a gunicorn worker's request threads (default 1: a process each)",
    )
    parser.add_argument(
        "--per-transaction", type=int, default=1, help="events per transaction (implies --atomic when > 1)"
    )
    parser.add_argument(
        "--atomic", action="store_true", help="each transaction in transaction.atomic() (BEGIN ... COMMIT)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="gdi-bench-audit-")
    _setup(data_dir)
    from django.core.management import call_command
    from django.db import connection, connections

    call_command("migrate", verbosity=0)
    from gdi_archive.accounts.models import User
    from gdi_archive.audit.models import AuditEvent
    from gdi_archive.audit.sealing import seal
    from gdi_archive.audit.verify import check

    AuditEvent.objects.all()._raw_delete(AuditEvent.objects.db)  # a fresh chain (bench database only)
    User.objects.get_or_create(username="bench")
    vendor = connection.vendor
    connections.close_all()

    if args.writers % args.threads:
        parser.error("--writers must be a multiple of --threads")
    processes = args.writers // args.threads
    per_writer = args.events // processes
    total = per_writer * processes
    ctx = multiprocessing.get_context("spawn")
    atomic = args.atomic or args.per_transaction > 1
    append, append_cpu, append_server = _run(
        ctx,
        _writer,
        processes,
        lambda i: (data_dir, per_writer, i * per_writer, args.per_transaction, atomic, args.threads),
    )
    bare_cpu = bare_server = None
    ceiling = None
    if vendor == "postgresql":
        # The same commits without Django or the audit log: how many the disk allows (group commit).
        url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS bench_bare_commit (id bigserial PRIMARY KEY, v text)")
        connections.close_all()
        commits = total // args.per_transaction
        bare, bare_cpu, bare_server = _run(ctx, _bare_commit, args.writers, lambda i: (url, commits // args.writers))
        bare_cpu, bare_server = (
            None if v is None else v / (commits // args.writers * args.writers) for v in (bare_cpu, bare_server)
        )
        ceiling = round(commits // args.writers * args.writers / bare)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_bare_commit")

    started = time.perf_counter()
    sealed = seal(wait=True)
    sealing = time.perf_counter() - started
    tracemalloc.start()
    started = time.perf_counter()
    report = check(seal_first=False)
    verify = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.broken is None and report.checked == total and report.unsealed == 0, report
    figures = {
        "writers": args.writers,
        "threads_per_process": args.threads,
        "appends_per_s": round(total / append),
        "seal_per_s": round(sealed / sealing) if sealed else None,
        "verify_per_s": round(report.checked / verify),
        "database": vendor,
        "events": total,
        "per_transaction": args.per_transaction,
        "shape": "atomic" if atomic else "autocommit",
        "bare_commits_per_s": ceiling,
        "cpu_us_per_append": round(append_cpu / total * 1e6),
        "backend_cpu_us_per_append": None if append_server is None else round(append_server / total * 1e6),
        "bare_cpu_us_per_commit": None if bare_cpu is None else round(bare_cpu * 1e6),
        "bare_backend_cpu_us_per_commit": None if bare_server is None else round(bare_server * 1e6),
    }

    shape = "in transaction.atomic()" if atomic else "autocommit, as a download or a Beacon query"
    print(
        f"database: {vendor}, events: {total}, writers: {args.writers} ({processes} processes x {args.threads} threads), record() {shape}"
    )
    print(
        f"append: {total / append:,.0f} events/s ({append * 1e6 / total * args.writers:,.0f} µs each per writer, own transaction)"
    )
    print(
        f"CPU per append: {figures['cpu_us_per_append']} µs in the writer"
        + (f", {figures['backend_cpu_us_per_append']} µs in its PostgreSQL process" if append_server else "")
    )
    if ceiling:
        if bare_cpu is not None:
            print(
                f"CPU per bare commit: {figures['bare_cpu_us_per_commit']} µs in the writer"
                + (f", {figures['bare_backend_cpu_us_per_commit']} µs in PostgreSQL" if bare_server else "")
            )
        print(
            f"bare commits (one-row INSERT, no Django, same writers): {ceiling:,}/s; "
            f"audited transactions: {total / args.per_transaction / append:,.0f}/s"
        )
    print(
        f"seal: {sealed:,} events in {sealing:.2f} s"
        + (f" ({sealed / sealing:,.0f} events/s)" if sealed else " (sealed as they were written)")
    )
    print(f"verify: {report.checked / verify:,.0f} events/s ({verify:.2f} s for the chain)")
    print(f"verify peak Python memory: {peak / 2**20:.1f} MiB (batches of 2000 rows; flat in the log's length)")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()

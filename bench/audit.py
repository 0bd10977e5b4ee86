"""How fast is the audit log? Appending (one hash per event, inside a transaction) and
`audit_verify` walking the chain, on the embedded default (SQLite file) or on PostgreSQL when
DATABASE_URL is set. Also the verify's peak Python memory, which must not grow with the log.

    .venv/bin/python bench/audit.py [--events 20000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gdi_bench .venv/bin/python bench/audit.py
"""

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="gdi-bench-audit-")
    os.environ.update(DJANGO_SETTINGS_MODULE="gdi_archive.settings", DATA_DIR=data_dir, LOG_LEVEL="ERROR")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{data_dir}/bench.sqlite3")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from gdi_archive.accounts.models import User
    from gdi_archive.audit.models import AuditEvent
    from gdi_archive.audit.services import record
    from gdi_archive.audit.verify import first_break

    AuditEvent.objects.all()._raw_delete(AuditEvent.objects.db)  # a fresh chain (bench database only)
    user = User.objects.get_or_create(username="bench")[0]
    started = time.perf_counter()
    for n in range(args.events):
        record(action="bench.event", actor=user, target=user, details={"n": n, "dataset": "GDID00000000001"})
    append = time.perf_counter() - started

    tracemalloc.start()
    started = time.perf_counter()
    checked, broken = first_break()
    verify = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert broken is None and checked == args.events

    print(f"database: {connection.vendor}, events: {args.events}")
    print(f"append: {args.events / append:,.0f} events/s ({append * 1e6 / args.events:,.0f} µs each, own transaction)")
    print(f"verify: {checked / verify:,.0f} events/s ({verify:.2f} s for the chain)")
    print(f"verify peak Python memory: {peak / 2**20:.1f} MiB (batches of 2000 rows; flat in the log's length)")
    print(f"ratio verify/append: {append / verify:.1f}x")


if __name__ == "__main__":
    main()

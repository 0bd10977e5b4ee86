"""A catalogue flat to a million files: the hot reads at 1k, 100k and 1M files, side by side.

    .venv/bin/python bench/scale.py [--scale 1.0] [--repeat 60] [--rounds 10] [--postgres postgres://...] [--json]

Three scratch PostgreSQL databases (each migrated, with one real Crypt4GH file ingested so that
every synthetic file has a real header to re-encrypt) are filled with `COPY` to 1,000, 100,000
and 1,000,000 files (times `--scale`), and everything else in proportion, so that the full size
is 10,000 datasets (100 files each) in 1,000 DACs, 100,000 users and 200,000 entitlements, each
from an approved access request. Then (after ANALYZE) these run through the whole Django stack
in-process (django.test.Client, no network), `--repeat` times per size, split into `--rounds`
rounds that visit the three sizes in turn (so that a neighbour's load on a shared machine weighs
on every size alike), as `alice` (a bearer passport from POST /api/tokens, two entitlements) or
`carol` (a member of the first DAC, signed in):
  - datasets:        GET /api/datasets
  - dataset_files:   GET /api/datasets/{acc}/files?limit=100 (the second page, through its cursor)
  - download_check:  GET /api/files/{acc}/header (grant check, header re-encrypted, audited)
  - htsget_ticket:   GET /htsget/reads/{acc}?encryptionScheme=C4GH (whole file)
  - permissions:     GET /api/permissions/alice (her visas, signed; she is signed in)
  - dac_admin_list:  GET /admin/access/accessrequest/ (carol's committee's requests)
Goal: every p50 at 1M files <= 1.5x its p50 at 1k.

--json: the last line is {"operations": {name: {"p50_ms": {"1k", "100k", "1M"}}}, "worst_ratio",
"ratios": {name: 1M/1k}, "rows": {"1k": {table: count}, ...}, "load_seconds": {...}, "scale", "calls"}.
"""

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PASSWORD = "bench-password-12345"
STAGES = (("1k", 1_000), ("100k", 100_000), ("1M", 1_000_000))
FILES_PER_DATASET = 100
DATASETS_PER_DAC = 10
FILES_PER_USER = 10
ENTITLEMENTS_PER_USER = 2


def _setup(data_dir: str, database_url: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="gdi_archive.settings",
        DATA_DIR=data_dir,
        DATABASE_URL=database_url,
        LOG_LEVEL="ERROR",
        ENVIRONMENT="development",
        BASE_URL="http://testserver",
        C4GH_PASSPHRASE="bench-passphrase",
    )
    for name in ("REDIS_URL", "STORAGE_URL", "INBOX_URL", "OUTBOX_URL", "C4GH_SECRET_KEY_FILE"):
        os.environ.pop(name, None)
    import django

    django.setup()


class Loader:
    """Grows the catalogue with COPY; synthetic row n of a table gets id base + n."""

    def __init__(self, template, alice, carol):
        from django.contrib.auth import get_user_model
        from django.db.models import Max

        from gdi_archive.access.models import AccessRequest, Entitlement
        from gdi_archive.catalogue.models import DAC, Dataset, File

        self.models = {
            "user": get_user_model(),
            "dac": DAC,
            "dataset": Dataset,
            "file": File,
            "dataset_files": Dataset.files.through,
            "request": AccessRequest,
            "request_datasets": AccessRequest.datasets.through,
            "entitlement": Entitlement,
        }
        self.base = {name: model.objects.aggregate(m=Max("id"))["m"] or 0 for name, model in self.models.items()}
        self.done = dict.fromkeys(self.models, 0)
        self.template = template
        self.alice, self.carol = alice, carol

    def id(self, table: str, n: int) -> int:
        return self.base[table] + n

    def _copy(self, table: str, rows) -> None:
        from django.db import connection
        from django.db.models import CharField, JSONField, TextField
        from django.utils import timezone

        model = self.models[table]
        fields = list(model._meta.concrete_fields)
        now = timezone.now()

        def value(field, row):
            if field.attname in row:
                v = row[field.attname]
            elif field.has_default():
                v = field.get_default()
            elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                v = now
            elif field.null:
                v = None
            elif isinstance(field, CharField | TextField):
                v = ""
            else:
                raise ValueError(f"{model.__name__}.{field.name} needs a value")
            if isinstance(field, JSONField) and v is not None:
                v = json.dumps(v)
            return v

        columns = ", ".join(f'"{f.column}"' for f in fields)
        with connection.cursor() as cursor:
            raw = cursor.connection
            with raw.cursor() as c, c.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row([value(f, row) for f in fields])
            pk = model._meta.pk.column
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{model._meta.db_table}\"', '{pk}'), "
                f'(SELECT MAX("{pk}") FROM "{model._meta.db_table}"))'
            )

    def grow_to(self, files: int) -> dict:
        from django.contrib.auth.hashers import make_password
        from django.utils import timezone

        from gdi_archive.common.accessions import DAC as DAC_KIND
        from gdi_archive.common.accessions import DATASET, FILE, make_accession

        now = timezone.now()
        target = {
            "file": files,
            "dataset": max(1, files // FILES_PER_DATASET),
            "user": max(1, files // FILES_PER_USER),
        }
        target["dac"] = max(1, target["dataset"] // DATASETS_PER_DAC)
        target["entitlement"] = target["user"] * ENTITLEMENTS_PER_USER
        t = self.template
        unusable = make_password(None)

        def span(table):
            return range(self.done[table] + 1, target[table] + 1)

        self._copy(
            "user",
            (
                {"id": self.id("user", n), "username": f"user{n:07d}", "password": unusable, "email": f"u{n}@x.org"}
                for n in span("user")
            ),
        )
        self._copy(
            "dac",
            (
                {
                    "id": self.id("dac", n),
                    "accession": make_accession(DAC_KIND, self.id("dac", n)),
                    "name": f"DAC {n}",
                }
                for n in span("dac")
            ),
        )
        self._copy(
            "dataset",
            (
                {
                    "id": self.id("dataset", n),
                    "accession": make_accession(DATASET, self.id("dataset", n)),
                    "title": f"Dataset {n}",
                    "dac_id": self.id("dac", (n - 1) // DATASETS_PER_DAC + 1),
                    "duo": ["DUO:0000042"],
                    "status": "released",
                    "released_at": now,
                }
                for n in span("dataset")
            ),
        )
        self._copy(
            "file",
            (
                {
                    "id": self.id("file", n),
                    "accession": make_accession(FILE, self.id("file", n)),
                    "submitter_id": t.submitter_id,
                    "inbox_name": f"s{n}.bam.c4gh",
                    "name": f"s{n}.bam",
                    "format": "BAM",
                    "status": "ready",
                    "bytes_done": t.stored_size,
                    "bytes_total": t.stored_size,
                    "plaintext_size": t.plaintext_size,
                    "stored_size": t.stored_size,
                    "sha256": t.sha256,
                    "md5": t.md5,
                    "stored_sha256": t.stored_sha256,
                    "header": bytes(t.header),
                    "archive_key_id": t.archive_key_id,
                    "location": t.location,
                }
                for n in span("file")
            ),
        )
        self._copy(
            "dataset_files",
            (
                {
                    "id": self.id("dataset_files", n),
                    "dataset_id": self.id("dataset", (n - 1) // FILES_PER_DATASET + 1),
                    "file_id": self.id("file", n),
                }
                for n in span("file")
            ),
        )

        # One approved request per entitlement: alice holds the first two (datasets 1 and 2, DAC 1).
        def holder(n):
            if n <= 2:
                return self.alice.pk, n
            return self.id("user", (n - 1) // ENTITLEMENTS_PER_USER + 1), (n * 7919) % target["dataset"] + 1

        entitlements = list(span("entitlement"))
        self._copy(
            "request",
            (
                {
                    "id": self.id("request", n),
                    "applicant_id": holder(n)[0],
                    "dac_id": self.id("dac", (holder(n)[1] - 1) // DATASETS_PER_DAC + 1),
                    "title": f"Study {n}",
                    "purpose": "Benchmark.",
                    "status": "approved",
                    "round": 1,
                    "created_at": now - timedelta(seconds=n),
                    "submitted_at": now,
                    "decided_at": now,
                }
                for n in entitlements
            ),
        )
        self._copy(
            "request_datasets",
            (
                {
                    "id": self.id("request_datasets", n),
                    "accessrequest_id": self.id("request", n),
                    "dataset_id": self.id("dataset", holder(n)[1]),
                }
                for n in entitlements
            ),
        )
        self._copy(
            "entitlement",
            (
                {
                    "id": self.id("entitlement", n),
                    "user_id": holder(n)[0],
                    "dataset_id": self.id("dataset", holder(n)[1]),
                    "start": now - timedelta(days=1),
                    "end": now + timedelta(days=300),
                    "status": "active",
                    "granted_by_id": self.carol.pk,
                    "granted_at": now - timedelta(seconds=n),
                    "access_request_id": self.id("request", n),
                }
                for n in entitlements
            ),
        )
        target["dataset_files"] = target["file"]
        target["request"] = target["request_datasets"] = target["entitlement"]
        self.done.update(target)
        return dict(target)


def prepare(workdir: Path):
    """Migrated, keys made, one real file ingested; alice (reader), carol (DAC member), a steward."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from gdi_archive.crypt4gh import encrypt_stream
    from gdi_archive.ingest.services import ingest_local_file
    from gdi_archive.keyring.archive import current_public_key, ensure_archive_keys

    call_command("migrate", verbosity=0)
    ensure_archive_keys()
    users = get_user_model().objects
    steward = users.create_superuser("steward", "steward@example.org", PASSWORD)
    alice = users.create_user("alice", "alice@example.org", PASSWORD)
    carol = users.create_user("carol", "carol@example.org", PASSWORD, is_staff=True)
    source = workdir / "template.bam.c4gh"
    source.write_bytes(b"".join(encrypt_stream(iter([os.urandom(1 << 20)]), [current_public_key()])))
    template = ingest_local_file(path=source, submitter=steward, name="template.bam.c4gh")
    if template.status != "ready":
        sys.exit(f"ingest failed: {template.error}")
    return template, alice, carol


def calls_for(alice_token: str, client_key: str, alice, carol, loader) -> dict:
    """The six calls, each checked once (and so warmed up) against the database in use."""
    from django.test import Client

    from gdi_archive.common.accessions import DATASET, FILE, make_accession

    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {alice_token}", HTTP_X_C4GH_PUBLIC_KEY=client_key)
    alice_client, carol_client = Client(), Client()
    alice_client.force_login(alice)
    carol_client.force_login(carol)
    dataset_acc = make_accession(DATASET, loader.id("dataset", 1))
    file_acc = make_accession(FILE, loader.id("file", 50))
    first = bearer.get(f"/api/datasets/{dataset_acc}/files?limit=50")
    assert first.status_code == 200 and "Link" in first, (first.status_code, first.content[:300])
    second_page = first["Link"].split(">")[0].lstrip("<").replace("http://testserver", "")
    calls = {
        "datasets": (bearer, "/api/datasets"),
        "dataset_files": (bearer, second_page),
        "download_check": (bearer, f"/api/files/{file_acc}/header"),
        "htsget_ticket": (bearer, f"/htsget/reads/{file_acc}?encryptionScheme=C4GH"),
        "permissions": (alice_client, "/api/permissions/alice"),
        "dac_admin_list": (carol_client, "/admin/access/accessrequest/"),
    }
    for name, (client, path) in calls.items():
        response = client.get(path)
        assert response.status_code == 200, (name, response.status_code, response.content[:500])
    listed = bearer.get("/api/datasets").json()
    assert len(listed) == 2, listed
    return calls


def time_calls(calls: dict, times: dict, repeat: int) -> None:
    """One block: a warm-up call and then `repeat` timed calls of each operation."""
    for name, (client, path) in calls.items():
        client.get(path)
        for _ in range(repeat):
            began = time.perf_counter()
            response = client.get(path)
            times.setdefault(name, []).append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (name, response.status_code)


def use_database(name: str) -> None:
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="shrink (0.1: 100 .. 100k files) for a quick run")
    parser.add_argument("--repeat", type=int, default=60, help="timed calls per operation and size")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds the calls are split into")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last")
    args = parser.parse_args()

    import psycopg

    run = uuid.uuid4().hex[:8]
    names = {label: f"gdi_bench_scale_{run}_{label.lower()}" for label, _ in STAGES}
    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    workdir = Path(tempfile.mkdtemp(prefix="gdi-bench-scale-"))
    try:
        _setup(str(workdir), f"{args.postgres}/{names[STAGES[0][0]]}")
        from crypt4gh import sodium
        from django.db import connection
        from django.test import Client

        from gdi_archive.crypt4gh.keys import format_public_key

        client_key = base64.b64encode(format_public_key(sodium.derive_pk(os.urandom(32))).encode()).decode()
        rows: dict = {}
        load_seconds: dict = {}
        calls: dict = {}
        # One database per size, all kept, so that the sizes are measured interleaved, round by
        # round: a neighbour's load on this shared machine then weighs on every size alike.
        for label, files in STAGES:
            use_database(names[label])
            began = time.monotonic()
            template, alice, carol = prepare(workdir)
            loader = Loader(template, alice, carol)
            rows[label] = loader.grow_to(max(2 * FILES_PER_DATASET, int(files * args.scale)))
            from gdi_archive.catalogue.models import DAC

            DAC.objects.get(pk=loader.id("dac", 1)).members.add(carol)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            load_seconds[label] = round(time.monotonic() - began, 1)
            print(f"{label}: {rows[label]} loaded in {load_seconds[label]} s", flush=True)
            auth = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
            minted = Client().post(
                "/api/tokens", data="{}", content_type="application/json", HTTP_AUTHORIZATION=f"Basic {auth}"
            )
            assert minted.status_code == 201, minted.content
            time.sleep(1.1)  # tokens carry whole-second times
            calls[label] = calls_for(minted.json()["token"], client_key, alice, carol, loader)
        times: dict = {label: {} for label, _ in STAGES}
        per_block = max(1, args.repeat // args.rounds)
        for round_ in range(args.rounds):
            order = list(STAGES) if round_ % 2 == 0 else list(reversed(STAGES))
            for label, _ in order:
                use_database(names[label])
                time_calls(calls[label], times[label], per_block)
        results = {
            label: {op: round(statistics.median(values), 2) for op, values in times[label].items()}
            for label, _ in STAGES
        }
        first, last = STAGES[0][0], STAGES[-1][0]
        operations = {op: {"p50_ms": {label: results[label][op] for label, _ in STAGES}} for op in results[first]}
        ratios = {op: results[last][op] / results[first][op] for op in results[first]}
        print()
        print(f"{'operation':<16}" + "".join(f"{label:>10}" for label, _ in STAGES) + f"{last + '/' + first:>10}")
        for op, figures in operations.items():
            print(
                f"{op:<16}"
                + "".join(f"{figures['p50_ms'][label]:>10.2f}" for label, _ in STAGES)
                + f"{ratios[op]:>10.2f}"
            )
        worst = max(ratios.values())
        print(
            f"worst ratio {worst:.2f} (goal <= 1.5); p50 in ms over {per_block * args.rounds} calls per size, "
            f"{args.rounds} interleaved rounds, scale {args.scale}"
        )
        if args.json:
            print(
                json.dumps(
                    {
                        "operations": operations,
                        "worst_ratio": round(worst, 3),
                        "ratios": {op: round(r, 3) for op, r in ratios.items()},
                        "rows": rows,
                        "load_seconds": load_seconds,
                        "scale": args.scale,
                        "calls": per_block * args.rounds,
                    }
                )
            )
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
            for name in names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The Beacon benches' synthetic data: datasets of SAMPLES samples, SNVs spread over the
autosomes, loaded through the archive's own COPY next to a bare COPY (`load_phase`), and the
query bodies (`bodies`). Used by bench/beacon.py and bench/beacon_cpu.py."""

import json
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# GRCh38 primary autosomes, lengths rounded down to the Mb: where the synthetic variants fall.
CHROMOSOMES = {
    "1": 248, "2": 242, "3": 198, "4": 190, "5": 181, "6": 170, "7": 159, "8": 145, "9": 138, "10": 133,
    "11": 135, "12": 133, "13": 114, "14": 107, "15": 101, "16": 90, "17": 83, "18": 80, "19": 58,
    "20": 64, "21": 46, "22": 50,
}  # fmt: skip
SAMPLES = 500  # per dataset: the carrier bitmap is 63 bytes
BARE_TABLE = "bench_bare_variant"


def create_database(url: str) -> None:
    """Create the bench database if it is missing."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres".replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("bootstrap", "--no-demo", verbosity=0, stdout=open(os.devnull, "w"))


def make_datasets(count: int, n_variants: int) -> list:
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

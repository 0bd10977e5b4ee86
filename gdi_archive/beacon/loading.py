"""From an archived VCF/BCF to Variant rows: decrypt as a stream, read with pysam, bulk load.

The plaintext never touches a disk: the stored body is decrypted chunk by chunk (as archive
verification does) into a pipe that pysam reads, so memory stays flat whatever the file size.
For each alternate allele we keep allele count, allele number and frequency, overall and per
population (sex, country, country_sex, from the dataset's individuals), and a bitmap of the
samples that carry it: never the genotypes themselves.

Rows go in with PostgreSQL `COPY` (bulk_create elsewhere) under a new generation; only when the
whole file is in does the load's `live_generation` switch to it, in one transaction that also
deletes the older rows. So a run is idempotent, safe to repeat, and never shows half a file.
"""

import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from gdi_archive.catalogue.models import Dataset, File

from . import genome
from .models import Individual, Variant, VariantLoad

log = logging.getLogger(__name__)
VARIANT_FORMATS = (File.Format.VCF, File.Format.BCF)
BATCH = 20_000
COLUMNS = (
    "load_id",
    "dataset_id",
    "generation",
    "assembly",
    "chrom",
    "start",
    "end",
    "ref",
    "alt",
    "variant_type",
    "ac",
    "an",
    "af",
    "populations",
    "carriers",
)


# --- scheduling (called from the catalogue's signals and the individuals upload) ------------


def variant_files(dataset: Dataset):
    return dataset.files.filter(status=File.Status.READY, format__in=VARIANT_FORMATS, index_of__isnull=True)


def schedule_load(*, dataset: Dataset, file: File) -> VariantLoad:
    load, _ = VariantLoad.objects.get_or_create(dataset=dataset, file=file)
    VariantLoad.objects.filter(pk=load.pk).exclude(status=VariantLoad.Status.RUNNING).update(
        status=VariantLoad.Status.QUEUED, error=""
    )
    from . import tasks

    transaction.on_commit(lambda: tasks.load_variants.delay(load.pk))
    return load


def schedule_dataset(dataset_id: int, *, only_missing: bool = False) -> list[int]:
    """Queue a (re)load of every VCF/BCF of the dataset; draft or released, not withdrawn.

    `only_missing`: skip files whose variants are already live (a release after an upload).
    """
    dataset = Dataset.objects.filter(pk=dataset_id).exclude(status=Dataset.Status.WITHDRAWN).first()
    if dataset is None:
        return []
    files = variant_files(dataset)
    if only_missing:
        files = files.exclude(variant_loads__dataset=dataset, variant_loads__live_generation__isnull=False)
    return [schedule_load(dataset=dataset, file=file).pk for file in files]


def schedule_file(file: File) -> list[int]:
    if file.format not in VARIANT_FORMATS or file.index_of_id:
        return []
    datasets = file.datasets.exclude(status=Dataset.Status.WITHDRAWN)
    return [schedule_load(dataset=dataset, file=file).pk for dataset in datasets]


def forget_dataset(dataset_id: int) -> int:
    """Delete a withdrawn dataset's variants (answers already ignore them: this frees space)."""
    deleted = 0
    for load_id in VariantLoad.objects.filter(dataset_id=dataset_id).values_list("pk", flat=True):
        deleted += Variant.objects.filter(load_id=load_id).delete()[0]
    VariantLoad.objects.filter(dataset_id=dataset_id).update(live_generation=None, variants=0)
    return deleted


# --- reading ---------------------------------------------------------------------------------


def plaintext_chunks(file: File, on_bytes=None) -> Iterator[bytes]:
    """The file's plaintext, decrypted segment by segment from the archive store."""
    from gdi_archive.crypt4gh.header import open_header
    from gdi_archive.crypt4gh.segments import CIPHER_SEGMENT_SIZE, decrypt_segments
    from gdi_archive.keyring.archive import archive_secret_keys
    from gdi_archive.storage import archive_store

    opened = open_header(bytes(file.header), archive_secret_keys())
    body = archive_store().iter_range(file.location, 0, None, chunk_size=64 * CIPHER_SEGMENT_SIZE)
    if on_bytes is not None:
        body = _counting(body, on_bytes)
    yield from decrypt_segments(body, opened.session_keys)


def _counting(chunks, on_bytes):
    for chunk in chunks:
        on_bytes(len(chunk))
        yield chunk


class _Feeder(threading.Thread):
    """Writes an iterator of bytes into a pipe, for a reader that wants a path (pysam)."""

    def __init__(self, chunks: Iterable[bytes]):
        super().__init__(name="beacon-feed", daemon=True)
        self.read_fd, self.write_fd = os.pipe()
        self.chunks = chunks
        self.error: BaseException | None = None

    def run(self):
        try:
            with os.fdopen(self.write_fd, "wb", buffering=0) as pipe:
                for chunk in self.chunks:
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(pipe.fileno(), view) :]
        except BrokenPipeError:
            pass  # the reader stopped early; its own error is the one to report
        except BaseException as exc:
            self.error = exc


def population_index(dataset: Dataset, samples: list[str]) -> tuple[list[str], list[tuple[int, ...]]]:
    """Population names (ALL first) and, per sample column, which populations it belongs to."""
    people = {
        i.individual_id: (i.sex, i.country)
        for i in Individual.objects.filter(dataset=dataset).only("individual_id", "sex", "country")
    }
    names = ["ALL"]
    index = {"ALL": 0}

    def pop(name: str) -> int:
        if name not in index:
            index[name] = len(names)
            names.append(name)
        return index[name]

    memberships = []
    for sample in samples:
        sex, country = people.get(sample, ("", ""))
        member = [0]
        if sex:
            member.append(pop(sex))
        if country:
            member.append(pop(country))
            if sex:
                member.append(pop(f"{country}_{sex}"))
        memberships.append(tuple(member))
    return names, memberships


def variant_rows(
    records, *, load: VariantLoad, assembly: str, names: list[str], memberships: list[tuple[int, ...]], on_record=None
) -> Iterator[tuple]:
    """Rows (COLUMNS order) for every alternate allele of every record."""
    n_samples = len(memberships)
    n_pops = len(names)
    for rec in records:
        if on_record is not None:
            on_record()
        alts = rec.alts or ()
        if not alts:
            continue
        an = [0] * n_pops
        ac = [[0] * n_pops for _ in alts]
        carriers = [bytearray((n_samples + 7) // 8) for _ in alts]
        for column, sample in enumerate(rec.samples.values()):
            gt = sample.get("GT") if "GT" in sample else None
            if not gt:
                continue
            pops = memberships[column]
            for allele in gt:
                if allele is None:
                    continue
                for p in pops:
                    an[p] += 1
                if allele > 0 and allele <= len(alts):
                    for p in pops:
                        ac[allele - 1][p] += 1
                    carriers[allele - 1][column >> 3] |= 1 << (column & 7)
        chrom = genome.chromosome(rec.chrom)
        for i, alt in enumerate(alts):
            if alt in ("*", "<*>", "<NON_REF>", "."):
                continue
            counts = ac[i]
            populations = {names[p]: [counts[p], an[p]] for p in range(1, n_pops) if an[p]}
            yield (
                load.pk,
                load.dataset_id,
                load.generation,
                assembly,
                chrom,
                rec.start,
                rec.stop,
                rec.ref,
                alt,
                genome.variant_type(rec.ref, alt),
                counts[0],
                an[0],
                (counts[0] / an[0]) if an[0] else 0.0,
                json.dumps(populations, separators=(",", ":")),
                bytes(carriers[i]),
            )


# --- writing -----------------------------------------------------------------------------------


def copy_rows(rows: Iterable[tuple], *, on_batch=None) -> int:
    """Write rows (COLUMNS order) to beacon_variant: `COPY` on PostgreSQL, bulk_create elsewhere.

    Commits every BATCH rows (the rows are not live until their generation is), calling
    `on_batch(total)` after each, so progress can be seen and memory stays flat.
    """
    total = 0
    batch: list[tuple] = []

    def flush():
        nonlocal total
        if not batch:
            return
        with transaction.atomic():
            if connection.vendor == "postgresql":
                statement = f"COPY beacon_variant ({', '.join(_quoted(c) for c in COLUMNS)}) FROM STDIN"
                with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
                    for row in batch:
                        copy.write_row(row)
            else:
                Variant.objects.bulk_create([_variant(row) for row in batch], batch_size=1000)
        total += len(batch)
        batch.clear()
        if on_batch:
            on_batch(total)

    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            flush()
    flush()
    return total


def _quoted(column: str) -> str:
    return f'"{column}"'


def _variant(row: tuple) -> Variant:
    fields = dict(zip(COLUMNS, row, strict=True))
    fields["populations"] = json.loads(fields["populations"])
    return Variant(**fields)


# --- one run ------------------------------------------------------------------------------------


def run_load(load_id: int) -> VariantLoad | None:
    """Read the load's file into rows of a new generation, then make that generation live."""
    load = _claim(load_id)
    if load is None or load.status == VariantLoad.Status.DONE:
        return load
    progress = {"bytes": 0, "records": 0}
    try:
        written, assembly = _load_rows(load, progress)
    except Exception as exc:
        log.warning("beacon load %s (file %s) failed: %s", load.pk, load.file.accession, exc)
        _fail(load, exc)
        raise
    current = _make_live(load, written=written, progress=progress)
    log.info("beacon load %s: %d variants from %s (%s)", load.pk, written, load.file.accession, assembly)
    return current


def _claim(load_id: int) -> VariantLoad | None:
    """Start a new generation of the load (a withdrawn dataset's load just ends)."""
    with transaction.atomic():
        load = VariantLoad.objects.select_for_update().select_related("dataset", "file").filter(pk=load_id).first()
        if load is None:
            return None
        if load.dataset.status == Dataset.Status.WITHDRAWN:
            load.status = VariantLoad.Status.DONE
            load.save(update_fields=["status", "updated_at"])
            return load
        load.generation += 1
        load.status = VariantLoad.Status.RUNNING
        load.error = ""
        load.bytes_done = load.records_done = 0
        load.bytes_total = load.file.stored_size or 0
        load.started_at, load.finished_at = timezone.now(), None
        load.save()
    return load


def _load_rows(load: VariantLoad, progress: dict) -> tuple[int, str]:
    """Decrypt the file into pysam through a pipe and COPY its variant rows; (rows written, assembly).
    A failure of the decrypting feeder is raised in place of pysam's own error."""
    import pysam

    def on_bytes(n):
        progress["bytes"] += n

    def on_record():
        progress["records"] += 1

    def on_batch(_total):
        VariantLoad.objects.filter(pk=load.pk, generation=load.generation).update(
            bytes_done=progress["bytes"], records_done=progress["records"], updated_at=timezone.now()
        )

    feeder = _Feeder(plaintext_chunks(load.file, on_bytes))
    feeder.start()
    previous = pysam.set_verbosity(0)
    try:
        try:
            reader = pysam.VariantFile(f"/dev/fd/{feeder.read_fd}")
        except (OSError, ValueError) as exc:
            raise ValueError(f"the file is not a readable VCF/BCF ({exc})") from None
        with reader:
            samples = list(reader.header.samples)
            header_lines = str(reader.header).splitlines()
            assembly = genome.assembly_from_header(header_lines) or settings.BEACON_DEFAULT_ASSEMBLY
            names, memberships = population_index(load.dataset, samples)
            VariantLoad.objects.filter(pk=load.pk).update(samples=samples, assembly=assembly)
            rows = variant_rows(
                reader, load=load, assembly=assembly, names=names, memberships=memberships, on_record=on_record
            )
            written = copy_rows(rows, on_batch=on_batch)
    except Exception as exc:
        raise (feeder.error or exc) from None
    finally:
        pysam.set_verbosity(previous)
        try:
            os.close(feeder.read_fd)
        except OSError:
            pass
        feeder.join(timeout=30)
    if feeder.error is not None:
        raise feeder.error
    return written, assembly


def _fail(load: VariantLoad, reason) -> None:
    VariantLoad.objects.filter(pk=load.pk, generation=load.generation).update(
        status=VariantLoad.Status.ERROR, error=str(reason)[:2000], finished_at=timezone.now()
    )


def _make_live(load: VariantLoad, *, written: int, progress: dict) -> VariantLoad:
    """This generation's rows become the answer and older ones go, unless a newer run started meanwhile."""
    with transaction.atomic():
        current = VariantLoad.objects.select_for_update().get(pk=load.pk)
        if current.generation != load.generation:
            return current  # a newer run started meanwhile; it will make its own rows live
        current.live_generation = load.generation
        current.status = VariantLoad.Status.DONE
        current.variants = written
        current.bytes_done = progress["bytes"]
        current.records_done = progress["records"]
        current.finished_at = timezone.now()
        current.save()
        Variant.objects.filter(load_id=load.pk).exclude(generation=load.generation).delete()
    return current

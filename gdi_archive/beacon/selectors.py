"""What matches a Beacon query, per dataset; always only released datasets and live rows, so a
withdrawn dataset or a half-loaded file is never in an answer."""

from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import F

from gdi_archive.catalogue.models import Dataset

from . import ontology
from .models import Individual, Variant, VariantLoad
from .query import BeaconQuery, Filter, VariantQuery

_OPS = {
    "=": lambda a, b: abs(a - b) < 0.5,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "!": lambda a, b: abs(a - b) >= 0.5,
}


def beacon_id(dataset: Dataset) -> str:
    """The dataset's `dct:identifier` (GDI-{country}-{organisation}-{n}): the portal joins on it."""
    if isinstance(dataset, ReleasedDataset):
        return dataset.beacon_id
    digits = "".join(c for c in (dataset.accession or "") if c.isdigit())
    country = getattr(settings, "GDI_COUNTRY", None) or "EE"
    organisation = getattr(settings, "GDI_ORGANISATION", None) or "DEMO"
    return f"GDI-{country}-{organisation}-{int(digits) if digits else dataset.pk}"


def released_datasets(only: str | None = None):
    datasets = Dataset.objects.filter(status=Dataset.Status.RELEASED).order_by("accession")
    if only is not None:
        wanted = [d for d in datasets if only in (d.accession, beacon_id(d))]
        return wanted
    return list(datasets)


def live_variants(dataset_ids: list[int]):
    return Variant.objects.filter(
        dataset_id__in=dataset_ids,
        dataset__status=Dataset.Status.RELEASED,
        generation=F("load__live_generation"),
    )


def matching_variants(v: VariantQuery, dataset_ids: list[int]):
    rows = live_variants(dataset_ids).filter(chrom=v.chrom)
    if v.assembly:
        rows = rows.filter(assembly=v.assembly)
    if v.end is None or (v.ref is not None or v.alt is not None) and v.end == v.start + 1:
        rows = rows.filter(start=v.start)
    else:
        rows = rows.filter(start__gte=v.start, start__lt=v.end)
    if v.ref is not None and "N" not in v.ref:
        rows = rows.filter(ref=v.ref)
    if v.alt is not None and "N" not in v.alt:
        rows = rows.filter(alt=v.alt)
    if v.variant_type:
        rows = rows.filter(variant_type=v.variant_type)
    return rows


def _age_ok(f: Filter, onsets: list[float]) -> bool:
    target = ontology.duration_days(f.value or "")
    return target is not None and any(_OPS[f.operator](days, target) for days in onsets)


def individual_matches(person: dict, filters: list[Filter]) -> bool:
    """`person`: {"terms", "onset_days"}; every filter must hold (AND), as Beacon says."""
    for f in filters:
        if f.is_age:
            if not _age_ok(f, person["onset_days"]):
                return False
        elif f.operator == "!":
            if ontology.matches(f.id, person["terms"]):
                return False
        elif not ontology.matches(f.id, person["terms"]):
            return False
    return True


@dataclass
class DatasetHits:
    dataset: "Dataset | ReleasedDataset"
    individuals: list[str]  # matching individual (sample) ids, sorted
    variants: list  # matching Variant rows (aggregates only)
    # Set when the variants were counted in SQL: how many match (allele count >= the minimum);
    # `variants` is then only the requested page of them.
    variant_count: int | None = None


def _carriers(variant: Variant, samples: list[str]) -> set[str]:
    bits = bytes(variant.carriers)
    return {samples[i] for i in range(min(len(samples), len(bits) * 8)) if bits[i >> 3] >> (i & 7) & 1}


def hits(query: BeaconQuery, datasets: list[Dataset], *, entry_type: str, max_rows: int = 10_000) -> list[DatasetHits]:
    """Per dataset: the individuals and variants the query matches."""
    ids = [d.pk for d in datasets]
    by_dataset: dict[int, list] = {pk: [] for pk in ids}
    if query.variant is not None:
        for variant in matching_variants(query.variant, ids).order_by("dataset_id", "chrom", "start", "alt")[:max_rows]:
            by_dataset[variant.dataset_id].append(variant)
    need_people = entry_type == "individuals" or bool(query.filters)
    results = []
    samples_of = {}
    if query.variant is not None and need_people:
        for load in VariantLoad.objects.filter(dataset_id__in=ids).only("pk", "samples"):
            samples_of[load.pk] = load.samples
    for dataset in datasets:
        variants = by_dataset[dataset.pk]
        people: list[str] = []
        if need_people:
            people_rows = {
                row["individual_id"]: row
                for row in Individual.objects.filter(dataset=dataset).values("individual_id", "terms", "onset_days")
            }
            if query.filters:
                candidates = {pid for pid, row in people_rows.items() if individual_matches(row, query.filters)}
            else:
                candidates = set(people_rows)
                for samples in VariantLoad.objects.filter(dataset=dataset, live_generation__isnull=False).values_list(
                    "samples", flat=True
                ):
                    candidates.update(samples)
            if query.variant is not None:
                carriers: set[str] = set()
                kept = []
                for variant in variants:
                    these = _carriers(variant, samples_of.get(variant.load_id, []))
                    if query.filters:
                        these &= candidates
                        if these:
                            kept.append(variant)
                    carriers |= these
                if query.filters:
                    variants = kept
                candidates = carriers if not query.filters else carriers & candidates
            people = sorted(candidates)
        results.append(DatasetHits(dataset=dataset, individuals=people, variants=variants))
    return results


def filtering_terms() -> list[dict]:
    """Every ontology term present in released datasets' individuals, with its label if known."""
    terms: set[str] = set()
    for row in Individual.objects.filter(dataset__status=Dataset.Status.RELEASED).values_list("terms", flat=True):
        terms.update(row)
    has_age = Individual.objects.filter(dataset__status=Dataset.Status.RELEASED).exclude(onset_days=[]).exists()
    listed = [
        {
            "type": "ontology",
            "id": term,
            **({"label": ontology.LABELS[term]} if term in ontology.LABELS else {}),
            "scopes": ["individual"],
        }
        for term in sorted(terms)
    ]
    if has_age:
        listed.append(
            {
                "type": "alphanumeric",
                "id": ontology.AGE,
                "label": "age of onset (ISO 8601 duration)",
                "scopes": ["individual"],
            }
        )
    return listed


# --- the hot path: a variant query without filters, in one raw statement ----------------------


@dataclass(frozen=True)
class ReleasedDataset:
    """What an answer shows of a released dataset (read with the variants, not through the ORM)."""

    pk: int
    accession: str
    title: str
    beacon_id: str = field(compare=False)

    @property
    def url(self) -> str:
        return f"{settings.BASE_URL}/datasets/{self.accession}"


class VariantRow(NamedTuple):
    """A variant's aggregates as `services.variant_json` reads them (no carrier bitmap);
    `populations` is the column's JSON text as PostgreSQL sends it, parsed only when the variant
    is written into an answer (so a page's rows hold no dicts while the answer is built)."""

    chrom: str
    start: int
    end: int
    ref: str
    alt: str
    variant_type: str
    assembly: str
    ac: int
    an: int
    af: float
    populations: str


_STATEMENTS: dict[tuple, str] = {}


def _statement(shape: tuple) -> str:
    """The SQL of one query shape, built the first time it is asked for: per released dataset
    (one row each, with NULLs when nothing matches), how many live variants match with an allele
    count of at least the minimum and the first `keep` of them; or, when no rows are wanted,
    only whether one matches. The position index (dataset_id, chrom, start) answers each."""
    statement = _STATEMENTS.get(shape)
    if statement is not None:
        return statement
    exact, ref, alt, vtype, assembly, only, rows = shape
    variant, load, dataset = Variant._meta.db_table, VariantLoad._meta.db_table, Dataset._meta.db_table
    where = [
        "v.dataset_id = d.id",
        "v.generation = l.live_generation",
        "v.chrom = %(chrom)s",
        "v.start = %(start)s" if exact else "v.start >= %(start)s AND v.start < %(end)s",
        "v.ac >= %(minimum)s",
    ]
    where += ["v.assembly = %(assembly)s"] if assembly else []
    where += ["v.ref = %(ref)s"] if ref else []
    where += ["v.alt = %(alt)s"] if alt else []
    where += ["v.variant_type = %(variant_type)s"] if vtype else []
    matching = f"FROM {variant} v JOIN {load} l ON l.id = v.load_id WHERE {' AND '.join(where)}"
    if rows:
        lateral = (
            'SELECT * FROM (SELECT v.chrom, v.start, v."end", v.ref, v.alt, v.variant_type, v.assembly, v.ac, v.an,'
            " v.af, v.populations::text AS populations, row_number() OVER (ORDER BY v.chrom, v.start, v.alt, v.id)"
            f" AS rank, count(*) OVER () AS matches {matching}) page WHERE page.rank <= %(keep)s"
        )
        order = "d.accession, d.id, m.rank"
    else:
        lateral = f"SELECT 1 AS matches {matching} LIMIT 1"
        order = "d.accession, d.id"
    # The dataset's GDI identifier, worked out as `beacon_id` does it (the accession's digits).
    digits = "regexp_replace(coalesce(d.accession, ''), '[^0-9]', '', 'g')"
    gdi_id = f"%(id_prefix)s || (CASE WHEN {digits} = '' THEN d.id::numeric ELSE {digits}::numeric END)::text"
    chosen = f" AND (d.accession = %(only)s OR {gdi_id} = %(only)s)" if only else ""
    statement = (
        f"SELECT d.id, d.accession, d.title, {gdi_id}, m.* FROM {dataset} d LEFT JOIN LATERAL ({lateral}) m ON true"
        f" WHERE d.status = %(released)s{chosen} ORDER BY {order}"
    )
    _STATEMENTS[shape] = statement
    return statement


def _id_prefix() -> str:
    country = getattr(settings, "GDI_COUNTRY", None) or "EE"
    organisation = getattr(settings, "GDI_ORGANISATION", None) or "DEMO"
    return f"GDI-{country}-{organisation}-"


def variant_answer(
    query: BeaconQuery, *, only: str | None, minimum: int, rows: bool
) -> tuple[list[ReleasedDataset], list[DatasetHits]]:
    """The released datasets (or the one named `only`) and, per dataset, the variants matching a
    filterless variant query, in one statement: read at request time, so a withdrawn dataset or
    a re-run load is out of the answer at once. `rows` false: only whether each dataset has one."""
    v = query.variant
    exact = v.end is None or (v.ref is not None or v.alt is not None) and v.end == v.start + 1
    ref = v.ref is not None and "N" not in v.ref
    alt = v.alt is not None and "N" not in v.alt
    shape = (exact, ref, alt, bool(v.variant_type), bool(v.assembly), only is not None, rows)
    params = {
        "chrom": v.chrom,
        "start": v.start,
        "end": v.end,
        "minimum": minimum,
        "assembly": v.assembly,
        "ref": v.ref,
        "alt": v.alt,
        "variant_type": v.variant_type,
        "keep": query.skip + query.limit,
        "only": only,
        "id_prefix": _id_prefix(),
        "released": Dataset.Status.RELEASED.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(_statement(shape), params)
        found = cursor.fetchall()
    datasets: list[ReleasedDataset] = []
    hits: list[DatasetHits] = []
    current = None
    for row in found:
        if current is None or current.dataset.pk != row[0]:
            dataset = ReleasedDataset(row[0], row[1], row[2], beacon_id=row[3])
            datasets.append(dataset)
            current = DatasetHits(dataset=dataset, individuals=[], variants=[], variant_count=0)
            hits.append(current)
        if not rows:
            current.variant_count = 1 if row[4] is not None else 0
        elif row[4] is not None:  # chrom: a matching variant
            current.variant_count = row[16]
            if row[15] > query.skip:
                current.variants.append(VariantRow._make(row[4:15]))
    return datasets, hits

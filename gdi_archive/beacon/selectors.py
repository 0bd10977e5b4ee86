"""What matches a Beacon query, per dataset; always only released datasets and live rows, so a
withdrawn dataset or a half-loaded file is never in an answer."""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber

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
    dataset: Dataset
    individuals: list[str]  # matching individual (sample) ids, sorted
    variants: list  # matching Variant rows (aggregates only)
    # Set when the variants were counted in SQL: how many match (allele count >= the minimum);
    # `variants` is then only the requested page of them.
    variant_count: int | None = None


def variant_page(query: BeaconQuery, datasets: list[Dataset], *, minimum: int, rows: bool) -> list[DatasetHits]:
    """A variant query without individual filters, in one statement: per dataset, how many
    variants match with an allele count of at least `minimum`, and the first skip + limit of
    them (only the first, to know the count, when `rows` is false). No carrier bitmaps."""
    ids = [d.pk for d in datasets]
    keep = query.skip + query.limit if rows else 1
    matching = (
        matching_variants(query.variant, ids)
        .filter(ac__gte=minimum)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("dataset_id")],
                order_by=[F("chrom").asc(), F("start").asc(), F("alt").asc(), F("id").asc()],
            ),
            matches=Window(Count("id"), partition_by=[F("dataset_id")]),
        )
        .filter(rank__lte=keep)
        .defer("carriers")
        .order_by("dataset_id", "rank")
    )
    by_dataset: dict[int, list] = {pk: [] for pk in ids}
    counts: dict[int, int] = {}
    for variant in matching:
        by_dataset[variant.dataset_id].append(variant)
        counts[variant.dataset_id] = variant.matches
    return [
        DatasetHits(
            dataset=d,
            individuals=[],
            variants=by_dataset[d.pk][query.skip :] if rows else [],
            variant_count=counts.get(d.pk, 0),
        )
        for d in datasets
    ]


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

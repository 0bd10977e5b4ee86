"""The Beacon's rules: who may see how much, the daily budget, the audit, and the answers.

Granularity follows who asks, per dataset: anonymous at most `boolean`; any valid passport
(ours or a trusted broker's, or a signed-in user) at most `count`, allele frequencies
included (aggregate data); a live grant for the dataset, computed exactly as downloads do it
(`granted_datasets`), `record`. Never more than the request asked for. A count under
BEACON_MIN_COUNT is reported as not found; so is a variant whose allele count is under it, and
a population whose allele count is under it is left out.
"""

import functools
from dataclasses import dataclass

import orjson
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from gdi_archive.audit import services as audit
from gdi_archive.catalogue.models import Dataset
from gdi_archive.common.clients import client_address
from gdi_archive.passports.grants import Grants, granted_datasets

from . import genome, selectors
from .query import GRANULARITIES, BadRequest, BeaconQuery

API_VERSION = "v2.0.0"
SCHEMAS = {
    "individuals": (
        "individual",
        "beacon-individual-v2.0.0",
        "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/models/json/beacon-v2-default-model/individuals/defaultSchema.json",
    ),
    "g_variants": (
        "genomicVariation",
        "beacon-g_variant-v2.0.0",
        "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/models/json/beacon-v2-default-model/genomicVariations/defaultSchema.json",
    ),
    "datasets": (
        "dataset",
        "beacon-dataset-v2.0.0",
        "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/models/json/beacon-v2-default-model/datasets/defaultSchema.json",
    ),
}


@dataclass(frozen=True)
class Asker:
    """Who is asking: `key` names them for the budget (iss+sub, local user, or client address)."""

    key: str
    authenticated: bool
    granted: frozenset[str]
    actor: object


def asker(request) -> Asker:
    auth = getattr(request, "auth", None)
    user = getattr(request, "user", None)
    granted = granted_datasets(request)
    if isinstance(auth, Grants):
        return Asker(
            key=f"sub:{auth.issuer}|{auth.subject}", authenticated=True, granted=granted, actor=user or auth.subject
        )
    if user is not None and user.is_authenticated:
        return Asker(key=f"user:{user.pk}", authenticated=True, granted=granted, actor=user)
    return Asker(key=f"addr:{client_address(request)}", authenticated=False, granted=frozenset(), actor="anonymous")


# --- budget: one counter per asker, in the shared cache --------------------------------------

BUDGET_WINDOW = 24 * 3600  # seconds: the window opens with the asker's first counted query


def _budget_name(who: Asker) -> str:
    return f"beacon:budget:{who.key}"


def _redis_client(name: str):
    """The raw Redis client behind the default cache (None for other caches) and the cache's
    name for `name`: the budget is one INCR, where the cache API takes two or three round trips.
    The client is made once per cache connection (Django's makes a new one on every call)."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None, name
    holder = backend._cache
    client = getattr(holder, "_beacon_budget_client", None)
    if client is None:
        client = holder._beacon_budget_client = holder.get_client(name, write=True)
    return client, backend.make_key(name)


def spend_budget(who: Asker) -> None:
    """Count this query against the asker's BEACON_QUERY_BUDGET for the current 24 hours; past
    it, a 429 (Retry-After: when the window ends). Call it only once the request is known to be
    a query we answer, and `give_back` if it is then refused, so a refusal spends nothing.

    On Redis: one INCR; the first query of a window also sets its expiry. A counter left without
    one (the process died between the two) is given it when it refuses, so nobody is shut out
    for good."""
    client, key = _redis_client(_budget_name(who))
    if client is not None:
        used = client.incr(key)
        if used == 1:
            client.expire(key, BUDGET_WINDOW)
        if used <= settings.BEACON_QUERY_BUDGET:
            return
        ttl = client.ttl(key)
        if ttl < 0:
            client.expire(key, BUDGET_WINDOW)
            ttl = BUDGET_WINDOW
    else:
        ttl = BUDGET_WINDOW
        if cache.add(key, 1, timeout=BUDGET_WINDOW):
            used = 1
        else:
            try:
                used = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=BUDGET_WINDOW)
                used = 1
    if used > settings.BEACON_QUERY_BUDGET:
        raise BadRequest(
            f"The daily query budget ({settings.BEACON_QUERY_BUDGET} queries in 24 hours) is used up; "
            "please try again later.",
            status=429,
            retry_after=max(1, int(ttl)),
        )


def give_back(who: Asker) -> None:
    """Undo `spend_budget` for a query that was then refused (or failed)."""
    client, key = _redis_client(_budget_name(who))
    try:
        if client is not None:
            client.decr(key)
        else:
            cache.decr(key)
    except ValueError:  # gone meanwhile: nothing to give back
        pass


def audit_query(
    request,
    who: Asker,
    *,
    entry_type: str,
    query: BeaconQuery | None,
    granularity: str,
    outcome: str,
    datasets: int = 0,
) -> None:
    """One audit event per entry query: what kind of question, never its genotype detail."""
    details = {"entry_type": entry_type, "granularity": granularity, "outcome": outcome, "datasets": datasets}
    if query is not None:
        details.update(
            requested=query.granularity, variant_query=query.variant is not None, filters=[f.id for f in query.filters]
        )
    audit.record(action="beacon.query", actor=who.actor, request=request, details=details)


# --- answers ------------------------------------------------------------------------------------


def _rank(granularity: str) -> int:
    return GRANULARITIES.index(granularity)


def meta(query: BeaconQuery | None, *, entry_type: str | None, granularity: str) -> dict:
    summary = (query or BeaconQuery()).summary()
    schemas = []
    if entry_type in SCHEMAS:
        entity, _, url = SCHEMAS[entry_type]
        schemas = [{"entityType": entity, "schema": url}]
        summary["requestedSchemas"] = schemas
    return {
        "beaconId": settings.BEACON_ID,
        "apiVersion": API_VERSION,
        "returnedSchemas": schemas,
        "returnedGranularity": granularity,
        "receivedRequestSummary": summary,
    }


def error_body(status: int, message: str, *, query: BeaconQuery | None = None, entry_type: str | None = None) -> dict:
    return {
        "meta": meta(query, entry_type=entry_type, granularity="boolean"),
        "error": {"errorCode": status, "errorMessage": message},
    }


_ESCAPED: dict[str, str] = {}
_FREQUENCIES: dict[float, str] = {}
_REMEMBERED = 65_536  # entries per table; a full table starts again


def _inside(value: str) -> str:
    """`value` escaped for the inside of a JSON string, as orjson escapes it (`"`, `\\` and
    control characters), remembered for short values: chromosome names, assemblies, types,
    population names and most bases repeat from variant to variant."""
    text = value if value.isalnum() else orjson.dumps(value).decode()[1:-1]
    if len(value) <= 64:
        if len(_ESCAPED) >= _REMEMBERED:
            _ESCAPED.clear()
        _ESCAPED[value] = text
    return text


def _frequency(value: float) -> str:
    """round(value, 6) as JSON text (orjson's), remembered: a page's allele counts and numbers
    repeat (the same populations, rare variants), and `round` is a decimal conversion each time."""
    if len(_FREQUENCIES) >= _REMEMBERED:
        _FREQUENCIES.clear()
    text = _FREQUENCIES[value] = orjson.dumps(round(value, 6)).decode()
    return text


@functools.lru_cache(maxsize=1024)
def _sequence(chrom: str, assembly: str) -> str:
    return _inside(genome.refseq(chrom, assembly))


def variant_json(variant, *, min_count: int, set_id: str, source: str) -> str:
    """One genomicVariation document as JSON text (what orjson would write for it as a dict),
    the answer's `results` being these texts joined: a region's hundred documents are then a
    hundred strings, not two thousand dicts and lists that the garbage collector would walk (and
    promote, with a collection mid-answer) before the response is written.

    `variant`: a Variant row or a `selectors.VariantRow` (its populations still JSON text);
    `set_id`: the dataset's GDI identifier and `source` its `"source":..,"sourceReference":..`
    members, both already escaped (`dataset_json_parts`). Populations with an allele count under
    `min_count` are left out."""
    escaped, frequency = _ESCAPED.get, _FREQUENCIES.get  # the tables first, then the functions
    populations = variant.populations
    if isinstance(populations, str):
        populations = orjson.loads(populations)
    af, ac, an = variant.af, variant.ac, variant.an
    frequencies = [
        f'{{"population":"ALL","alleleFrequency":{frequency(af) or _frequency(af)},"alleleCount":{ac},'
        f'"alleleNumber":{an}}}'
    ]
    for name in sorted(populations):
        ac, an = populations[name]
        if ac >= min_count and an:
            af = ac / an
            frequencies.append(
                f'{{"population":"{escaped(name) or _inside(name)}","alleleFrequency":{frequency(af) or _frequency(af)},'
                f'"alleleCount":{ac},"alleleNumber":{an}}}'
            )
    start, sequence = variant.start, _sequence(variant.chrom, variant.assembly)
    chrom = escaped(variant.chrom) or _inside(variant.chrom)
    assembly = escaped(variant.assembly) or _inside(variant.assembly)
    kind = escaped(variant.variant_type) or _inside(variant.variant_type)
    ref, alt = escaped(variant.ref) or _inside(variant.ref), escaped(variant.alt) or _inside(variant.alt)
    return (
        f'{{"variantInternalId":"{set_id}:{assembly}:{chrom}:{start}:{ref}:{alt}",'
        f'"variation":{{"variantType":"{kind}","referenceBases":"{ref}",'
        f'"alternateBases":"{alt}","location":{{"type":"SequenceLocation","sequence_id":"refseq:{sequence}",'
        f'"interval":{{"type":"SequenceInterval","start":{{"type":"Number","value":{start}}},'
        f'"end":{{"type":"Number","value":{variant.end}}}}}}}}},'
        f'"identifiers":{{"genomicHGVSId":"{sequence}:g.{start + 1}{ref}>{alt}"}},'
        f'"frequencyInPopulations":[{{{source},"frequencies":[{",".join(frequencies)}]}}]}}'
    )


def dataset_json_parts(dataset) -> tuple[str, str]:
    """A dataset's parts of its variant documents (`variant_json`'s `set_id` and `source`)."""
    source = f'"source":{orjson.dumps(dataset.title).decode()},"sourceReference":{orjson.dumps(dataset.url).decode()}'
    return _inside(selectors.beacon_id(dataset)), source


def individual_document(dataset_id: int, individual_id: str, records: dict) -> dict:
    return records.get(individual_id) or {"id": individual_id}


def answer(request, *, entry_type: str, query: BeaconQuery, dataset_id: str | None = None) -> dict:
    """The whole Beacon answer for an entry query, budget and audit included."""
    who = asker(request)
    if settings.BEACON_REQUIRE_PASSPORT and not who.authenticated:
        raise BadRequest(
            "This Beacon answers only requests with a valid passport (Authorization: Bearer ...).", status=401
        )
    if entry_type == "individuals" and not settings.BEACON_INDIVIDUALS:
        raise BadRequest("This Beacon does not serve individuals.", status=404)
    if entry_type == "g_variants" and query.variant is None:
        raise BadRequest("A g_variants query needs requestParameters (referenceName and start at least).")
    spend_budget(who)  # only now: a request refused above spends no budget and is refused for what it is
    try:
        found = None
        if entry_type == "g_variants" and not query.filters:  # the hot path: one statement for all of it
            rows = who.authenticated and _rank(query.granularity) >= _rank("count")
            datasets, found = selectors.variant_answer(
                query, only=dataset_id, minimum=settings.BEACON_MIN_COUNT, rows=rows
            )
        else:
            datasets = selectors.released_datasets(dataset_id)
        if dataset_id is not None and not datasets:
            raise BadRequest(f"There is no released dataset {dataset_id}.", status=404)
        allowed_best = "count" if who.authenticated else "boolean"
        if who.granted and any(d.accession in who.granted for d in datasets):
            allowed_best = "record"
        returned = GRANULARITIES[min(_rank(query.granularity), _rank(allowed_best))]
        body = build(query, datasets, entry_type=entry_type, returned=returned, who=who, found=found)
    except BaseException:
        give_back(who)
        raise
    audit_query(
        request,
        who,
        entry_type=entry_type,
        query=query,
        granularity=returned,
        outcome="found" if body["responseSummary"]["exists"] else "not-found",
        datasets=len(datasets),
    )
    return body


def build(
    query: BeaconQuery, datasets: list, *, entry_type: str, returned: str, who: Asker, found: list | None = None
) -> dict:
    """The answer's body from what matched (`found`: from `selectors.variant_answer`, else read here)."""
    minimum = settings.BEACON_MIN_COUNT
    sets, exists, total = [], False, 0
    if found is None:
        found = selectors.hits(query, datasets, entry_type=entry_type)
    for hit in found:
        dataset = hit.dataset
        level = GRANULARITIES[min(_rank(returned), _rank("record" if dataset.accession in who.granted else "count"))]
        if entry_type == "individuals":
            count = len(hit.individuals)
            if count < minimum:
                count = 0
            results = []
            if level == "record" and count:
                from .models import Individual

                page = hit.individuals[query.skip : query.skip + query.limit]
                records = dict(
                    Individual.objects.filter(dataset=dataset, individual_id__in=page).values_list(
                        "individual_id", "record"
                    )
                )
                results = [individual_document(dataset.pk, pid, records) for pid in page]
        else:
            if hit.variant_count is not None:  # counted in SQL; `variants` is the page
                count, page = hit.variant_count, hit.variants
            else:
                shown = [v for v in hit.variants if v.ac >= minimum]
                count, page = len(shown), shown[query.skip : query.skip + query.limit]
            results = []
            if level in ("count", "record") and page:
                set_id, source = dataset_json_parts(dataset)
                documents = ",".join(variant_json(v, min_count=minimum, set_id=set_id, source=source) for v in page)
                results = orjson.Fragment(f"[{documents}]")  # written as it is by views.json_response
        hit_found = count > 0
        exists = exists or hit_found
        total += count
        include = query.include
        if include == "NONE" or (include == "HIT" and not hit_found) or (include == "MISS" and hit_found):
            continue
        sets.append(
            {
                "id": selectors.beacon_id(dataset),
                "setType": "dataset",
                "exists": hit_found,
                "resultsCount": count,
                "results": results,
                "info": {"accession": dataset.accession, "granularity": level},
            }
        )
    body = {"meta": meta(query, entry_type=entry_type, granularity=returned), "responseSummary": {"exists": exists}}
    if returned == "boolean":
        return body
    body["responseSummary"]["numTotalResults"] = total
    body["response"] = {"resultSets": sets}
    return body


# --- datasets (collections) and the framework documents -------------------------------------


def dataset_document(dataset: Dataset) -> dict:
    from gdi_archive.catalogue import duo

    conditions = [{"id": term, "label": duo.describe(term), "version": "2021-02-23"} for term in dataset.duo or []]
    return {
        "id": selectors.beacon_id(dataset),
        "name": dataset.title,
        "description": dataset.description,
        "createDateTime": dataset.created_at.isoformat() if getattr(dataset, "created_at", None) else None,
        "updateDateTime": dataset.updated_at.isoformat() if getattr(dataset, "updated_at", None) else None,
        "externalUrl": dataset.url,
        "info": {"accession": dataset.accession},
        "dataUseConditions": {"duoDataUse": conditions},
    }


def datasets_answer(request, *, query: BeaconQuery, dataset_id: str | None = None) -> dict:
    """The released datasets: their public description (as in the FAIR Data Point)."""
    datasets = selectors.released_datasets(dataset_id)
    if dataset_id is not None and not datasets:
        raise BadRequest(f"There is no released dataset {dataset_id}.", status=404)
    page = datasets[query.skip : query.skip + query.limit]
    documents = [{k: v for k, v in dataset_document(d).items() if v is not None} for d in page]
    granularity = "record" if query.granularity == "record" else "count"
    return {
        "meta": meta(query, entry_type="datasets", granularity=granularity),
        "responseSummary": {"exists": bool(datasets), "numTotalResults": len(datasets)},
        "response": {"collections": documents},
    }

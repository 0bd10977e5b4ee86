"""A Beacon request, read from a POST body or GET parameters, as the GDI portal sends it.

Accepted shapes: `requestParameters` flat, nested under `g_variant`, as a list of such objects,
or `[]` (none); `requestedGranularity` and `pagination` inside `query` or beside it; filters
as objects or bare CURIE strings. Anything we cannot honour is a 400 with the reason.
"""

from dataclasses import dataclass, field

from . import genome, ontology

GRANULARITIES = ("boolean", "count", "record")
INCLUDE = ("ALL", "HIT", "MISS", "NONE")
VARIANT_KEYS = {
    "referenceName",
    "start",
    "end",
    "referenceBases",
    "alternateBases",
    "assemblyId",
    "variantType",
    "variantMinLength",
    "variantMaxLength",
    "geneId",
    "aminoacidChange",
    "genomicAlleleShortForm",
    "$schema",
}
SUPPORTED_VARIANT_KEYS = {
    "referenceName",
    "start",
    "end",
    "referenceBases",
    "alternateBases",
    "assemblyId",
    "variantType",
    "$schema",
}
OPERATORS = ("=", "<", ">", "<=", ">=", "!")


class BadRequest(Exception):
    """A request the Beacon refuses: answered as a Beacon error body with `status`."""

    status = 400

    def __init__(self, message: str, status: int = 400, *, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Filter:
    id: str
    operator: str = "="
    value: str | None = None
    scope: str | None = None

    @property
    def is_age(self) -> bool:
        return self.id == ontology.AGE


@dataclass(frozen=True)
class VariantQuery:
    chrom: str
    start: int
    end: int | None
    ref: str | None
    alt: str | None
    assembly: str | None
    variant_type: str | None

    @property
    def is_range(self) -> bool:
        return self.end is not None and self.ref is None and self.alt is None


@dataclass
class BeaconQuery:
    granularity: str = "boolean"
    skip: int = 0
    limit: int = 10
    include: str = "HIT"
    filters: list[Filter] = field(default_factory=list)
    variant: VariantQuery | None = None
    echo_parameters: dict = field(default_factory=dict)
    api_version: str = "v2.0.0"
    test_mode: bool = False

    def summary(self) -> dict:
        """`receivedRequestSummary`, as the framework's schema has it."""
        body = {
            "apiVersion": self.api_version,
            "requestedSchemas": [],
            "pagination": {"skip": self.skip, "limit": self.limit},
            "requestedGranularity": self.granularity,
            "includeResultsetResponses": self.include,
        }
        if self.filters:
            body["filters"] = [f.id for f in self.filters]
        if self.echo_parameters:
            body["requestParameters"] = {"g_variant": self.echo_parameters}
        return body


def _int(value, name: str) -> int:
    if isinstance(value, list):
        if len(value) != 1:
            raise BadRequest(
                f"`{name}` with {len(value)} values (a bracket query) is not supported; give one position."
            )
        value = value[0]
    if isinstance(value, bool):
        raise BadRequest(f"`{name}` must be a whole number.")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value < 0 or value > 2**40:
        raise BadRequest(f"`{name}` must be a whole number, 0 or more (0-based).")
    return value


def _bases(value, name: str) -> str | None:
    if value in (None, "", "N"):
        return None
    if not isinstance(value, str) or len(value) > 1000 or not all(c in "ACGTN" for c in value.upper()):
        raise BadRequest(f"`{name}` must be bases (A, C, G, T, N).")
    return value.upper()


def variant_query(params: dict) -> VariantQuery | None:
    if not params:
        return None
    unknown = set(params) - VARIANT_KEYS
    if unknown:
        raise BadRequest(f"Unknown request parameter(s): {', '.join(sorted(unknown))}.")
    unsupported = set(params) - SUPPORTED_VARIANT_KEYS
    if unsupported:
        raise BadRequest(f"This Beacon does not support {', '.join(sorted(unsupported))} queries.")
    name = params.get("referenceName")
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise BadRequest("`referenceName` is required (e.g. 22, chr22 or NC_000022.11).")
    if "start" not in params:
        raise BadRequest("`start` is required (0-based).")
    start = _int(params["start"], "start")
    end = _int(params["end"], "end") if params.get("end") not in (None, "", []) else None
    if end is not None and end <= start:
        raise BadRequest("`end` must be greater than `start`.")
    if end is not None and end - start > 10_000_000:
        raise BadRequest("A range query may span at most 10 Mb.")
    assembly = params.get("assemblyId")
    if assembly not in (None, ""):
        assembly = genome.assembly(str(assembly))
        if assembly is None:
            raise BadRequest("`assemblyId` must be GRCh37 or GRCh38.")
    else:
        assembly = None
    vtype = params.get("variantType")
    if vtype not in (None, "") and not isinstance(vtype, str):
        raise BadRequest("`variantType` must be text such as SNP or INDEL.")
    ref = _bases(params.get("referenceBases"), "referenceBases")
    alt = _bases(params.get("alternateBases"), "alternateBases")
    if end is None and ref is None and alt is None and not vtype:
        end = start + 1  # a bare position: whatever starts there
    return VariantQuery(
        chrom=genome.chromosome(name),
        start=start,
        end=end,
        ref=ref,
        alt=alt,
        assembly=assembly,
        variant_type=(vtype or None) and vtype.upper(),
    )


def _filters(raw) -> list[Filter]:
    if raw in (None, "", []):
        return []
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list) or len(raw) > 50:
        raise BadRequest("`filters` must be a list (at most 50).")
    filters = []
    for item in raw:
        if isinstance(item, str):
            item = {"id": item}
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("id"), str)
            or not ontology.TERM.match(item["id"].strip())
        ):
            raise BadRequest("Each filter needs an `id` such as MONDO:0005015 or PATO:0000011.")
        term = ontology.normalise(item["id"])
        operator = item.get("operator", "=")
        value = item.get("value")
        if operator not in OPERATORS:
            raise BadRequest(f"Filter operator {operator!r} is not one of {', '.join(OPERATORS)}.")
        if term == ontology.AGE:
            if not isinstance(value, str) or ontology.duration_days(value) is None:
                raise BadRequest(
                    "An age filter (PATO:0000011) needs a `value` that is an ISO 8601 duration such as P40Y."
                )
        elif value is not None and not isinstance(value, str | int | float):
            raise BadRequest("A filter `value` must be text or a number.")
        scope = item.get("scope")
        if scope is not None and not isinstance(scope, str):
            raise BadRequest("A filter `scope` must be text.")
        filters.append(Filter(id=term, operator=operator, value=None if value is None else str(value), scope=scope))
    return filters


def _parameters(raw) -> dict:
    """The variant parameters out of the shapes clients send."""
    if raw in (None, "", [], {}):
        return {}
    if isinstance(raw, list):
        merged: dict = {}
        for item in raw:
            if not isinstance(item, dict):
                raise BadRequest("`requestParameters` must be an object (or a list of objects).")
            merged.update(_parameters(item))
        return merged
    if not isinstance(raw, dict):
        raise BadRequest("`requestParameters` must be an object.")
    for key in ("g_variant", "g_variants", "genomicVariation", "genomicVariant"):
        if isinstance(raw.get(key), dict):
            return _parameters(raw[key])
    return {k: v for k, v in raw.items() if k != "$schema"}


def _pagination(raw, query: BeaconQuery, max_page: int) -> None:
    if raw in (None, {}):
        return
    if not isinstance(raw, dict):
        raise BadRequest("`pagination` must be an object with `skip` and `limit`.")
    if "skip" in raw:
        query.skip = _int(raw["skip"], "pagination.skip")
    if "limit" in raw:
        limit = _int(raw["limit"], "pagination.limit")
        query.limit = max_page if limit == 0 else min(limit, max_page)


def parse_body(body, *, max_page: int = 100) -> BeaconQuery:
    if body in (None, b"", ""):
        body = {}
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a Beacon request (a JSON object).")
    query_part = body.get("query") or {}
    if not isinstance(query_part, dict):
        raise BadRequest("`query` must be an object.")
    query = BeaconQuery()
    meta = body.get("meta") or {}
    if isinstance(meta, dict) and isinstance(meta.get("apiVersion"), str):
        query.api_version = meta["apiVersion"][:20]
    granularity = query_part.get("requestedGranularity", body.get("requestedGranularity"))
    if granularity not in (None, ""):
        if granularity not in GRANULARITIES:
            raise BadRequest("`requestedGranularity` must be boolean, count or record.")
        query.granularity = granularity
    include = query_part.get("includeResultsetResponses", body.get("includeResultsetResponses"))
    if include not in (None, ""):
        if include not in INCLUDE:
            raise BadRequest("`includeResultsetResponses` must be ALL, HIT, MISS or NONE.")
        query.include = include
    _pagination(query_part.get("pagination", body.get("pagination")), query, max_page)
    query.filters = _filters(query_part.get("filters", body.get("filters")))
    params = _parameters(query_part.get("requestParameters", body.get("requestParameters")))
    query.variant = variant_query(params)
    query.echo_parameters = {k: v for k, v in params.items() if isinstance(v, str | int | list)}
    query.test_mode = bool(query_part.get("testMode", body.get("testMode", False)))
    return query


def parse_get(params, *, max_page: int = 100) -> BeaconQuery:
    """GET /g_variants?referenceName=22&start=100&... (lists as comma-separated values)."""
    body: dict = {"query": {}}
    variant = {}
    for key in VARIANT_KEYS - {"$schema"}:
        if key in params:
            variant[key] = params.get(key)
    q = body["query"]
    if variant:
        q["requestParameters"] = variant
    if params.get("filters"):
        q["filters"] = params.get("filters")
    for key in ("requestedGranularity", "includeResultsetResponses"):
        if params.get(key):
            q[key] = params.get(key)
    if params.get("skip") or params.get("limit"):
        q["pagination"] = {k: params.get(k) for k in ("skip", "limit") if params.get(k)}
    extra = (
        set(params) - VARIANT_KEYS - {"filters", "requestedGranularity", "includeResultsetResponses", "skip", "limit"}
    )
    if extra:
        raise BadRequest(f"Unknown parameter(s): {', '.join(sorted(extra))}.")
    return parse_body(body, max_page=max_page)

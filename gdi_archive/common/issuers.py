"""Reading TRUSTED_ISSUERS entries (design.md section 7, "Trust, scoped"); no models here.

An entry is `{"iss", "jku", "userinfo"?, "grants"?, "by"?, "sources"?, "link_identities"?,
"max_visa_lifetime"?}`. Defaults deny: no `grants` opens nothing, `by` is `["dac"]`,
`link_identities` is false, `max_visa_lifetime` is 31 days. A malformed entry raises
ImproperlyConfigured naming the entry and the field, so a typo stops the process at start-up
instead of widening or silently dropping a broker's trust.
"""

from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

DEFAULT_BY = ("dac",)
DEFAULT_MAX_VISA_LIFETIME = 31 * 24 * 3600
FIELDS = frozenset({"iss", "jku", "userinfo", "grants", "by", "sources", "link_identities", "max_visa_lifetime"})
_GRANT_KINDS = frozenset({"datasets", "dacs"})


def _bad(where: str, what: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"TRUSTED_ISSUERS {where}: {what}")


def _url(value, where: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(where, f"{name!r} must be a non-empty URL string")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _bad(where, f"{name!r} must be an http(s) URL, not {value[:80]!r}")
    return value


def _strings(value, where: str, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _bad(where, f"{name!r} must be a list of non-empty strings")
    return tuple(dict.fromkeys(v.strip() for v in value))


def parse_issuer(entry, index: int = 0) -> dict:
    """One entry, checked and with its defaults filled in (idempotent: a parsed entry parses again)."""
    where = f"entry {index}"
    if not isinstance(entry, dict):
        raise _bad(where, "each entry must be a JSON object")
    if isinstance(entry.get("iss"), str):
        where = f"entry {index} ({entry['iss'][:80]})"
    unknown = set(entry) - FIELDS
    if unknown:
        raise _bad(where, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(FIELDS)}")
    iss = _url(entry.get("iss"), where, "iss").rstrip("/")
    jku = _url(entry.get("jku"), where, "jku")
    userinfo = entry.get("userinfo")
    if userinfo is not None and userinfo != "":
        userinfo = _url(userinfo, where, "userinfo")
    grants = entry.get("grants")
    if grants is None:
        grants = {"datasets": [], "dacs": []}
    if not isinstance(grants, dict) or set(grants) - _GRANT_KINDS:
        raise _bad(where, '"grants" must be an object {"datasets": [accession, ...], "dacs": [DAC accession, ...]}')
    datasets = _strings(grants.get("datasets", []), where, "grants.datasets")
    dacs = _strings(grants.get("dacs", []), where, "grants.dacs")
    by = entry.get("by")
    by = DEFAULT_BY if by is None else _strings(by, where, "by")
    if not by:
        raise _bad(where, '"by" must name at least one value (leave it out for ["dac"])')
    sources = entry.get("sources")
    if sources is not None:
        if not isinstance(sources, list) or not sources:
            raise _bad(where, '"sources" must be a non-empty list of URL prefixes (leave it out to accept any)')
        sources = tuple(dict.fromkeys(_url(s, where, "sources").rstrip("/") for s in sources))
    link = entry.get("link_identities", False)
    if not isinstance(link, bool):
        raise _bad(where, '"link_identities" must be true or false')
    lifetime = entry.get("max_visa_lifetime", DEFAULT_MAX_VISA_LIFETIME)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime < 60:
        raise _bad(where, '"max_visa_lifetime" must be a whole number of seconds, at least 60')
    return {
        "iss": iss,
        "jku": jku,
        "userinfo": userinfo or None,
        "grants": {"datasets": list(datasets), "dacs": list(dacs)},
        "by": list(by),
        "sources": list(sources) if sources is not None else None,
        "link_identities": link,
        "max_visa_lifetime": lifetime,
    }


def parse_trusted_issuers(value) -> list[dict]:
    """The whole setting: a list of entries, each issuer at most once."""
    if not isinstance(value, list):
        raise ImproperlyConfigured("TRUSTED_ISSUERS must be a JSON list of {iss, jku, ...} objects")
    parsed = [parse_issuer(entry, index) for index, entry in enumerate(value)]
    seen = set()
    for entry in parsed:
        if entry["iss"] in seen:
            raise ImproperlyConfigured(f"TRUSTED_ISSUERS lists issuer {entry['iss']!r} twice")
        seen.add(entry["iss"])
    return parsed


def source_matches(source: str, prefix: str) -> bool:
    """`source` is `prefix` or below it, on whole path segments (`https://x/dac` matches
    `https://x/dac/1`, never `https://x/dac-evil`); trailing slashes ignored; a source with
    `.`/`..` segments (also once percent-decoded, where `%2f` and `%5c` become separators), a
    query or a fragment never matches."""
    if not isinstance(source, str):
        return False
    parts = urlsplit(source)
    if parts.query or parts.fragment or "#" in source or "?" in source:
        return False
    decoded = unquote(parts.path).replace("\\", "/")
    if any(segment in (".", "..") for segment in (*parts.path.split("/"), *decoded.split("/"))):
        return False
    source, prefix = source.rstrip("/"), prefix.rstrip("/")
    return source == prefix or source.startswith(prefix + "/")

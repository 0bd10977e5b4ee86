"""htsget request parameters (GET query or POST body), checked as standards.md B.2/B.3 say."""

import json
from dataclasses import dataclass

from ..genomic.planner import Region

READS, VARIANTS = "reads", "variants"
FORMATS = {READS: ("BAM", "CRAM"), VARIANTS: ("VCF", "BCF")}
UINT32 = 2**32 - 1
MAX_BODY = 1024 * 1024
MAX_REGIONS = 1000


class HtsgetError(Exception):
    def __init__(self, error: str, message: str, status: int = 400):
        super().__init__(message)
        self.error, self.message, self.status = error, message, status


def invalid(message: str) -> HtsgetError:
    return HtsgetError("InvalidInput", message)


@dataclass(frozen=True)
class HtsgetQuery:
    format: str | None
    header_only: bool
    regions: list[Region] | None  # None: the whole file
    encrypted: bool


def _uint(name: str, value) -> int:
    if isinstance(value, bool):
        raise invalid(f"`{name}` must be a whole number.")
    if isinstance(value, str):
        if not value.isdigit():
            raise invalid(f"`{name}` must be a whole number, 0 or more.")
        value = int(value)
    if not isinstance(value, int) or value < 0 or value > UINT32:
        raise invalid(f"`{name}` must be a whole number from 0 to {UINT32}.")
    return value


def _format(datatype: str, value) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.upper() not in FORMATS[datatype]:
        raise HtsgetError(
            "UnsupportedFormat", f"Format {value!r} is not served here; use one of {', '.join(FORMATS[datatype])}."
        )
    return value.upper()


def _scheme(value) -> bool:
    if value is None or value == "":
        return False
    if not isinstance(value, str) or value.upper() != "C4GH":
        raise HtsgetError("UnsupportedFormat", f"Encryption scheme {value!r} is not supported; use C4GH.")
    return True


def _tags(tags, notags) -> None:
    if tags is not None and notags is not None and set(tags) & set(notags):
        raise invalid("`tags` and `notags` must not name the same tag.")


def _list(value) -> list[str] | None:
    return None if value is None else [v for v in value.split(",") if v]


def from_get(datatype: str, query) -> HtsgetQuery:
    fmt = _format(datatype, query.get("format"))
    encrypted = _scheme(query.get("encryptionScheme"))
    klass = query.get("class")
    reference, start, end = query.get("referenceName"), query.get("start"), query.get("end")
    if datatype == VARIANTS and query.get("fields") is not None:
        raise invalid("`fields` applies to reads only.")
    _tags(_list(query.get("tags")), _list(query.get("notags")))
    if klass is not None:
        if klass != "header":
            raise invalid(f"`class` may only be `header`, not {klass!r}.")
        others = [
            name
            for name in ("referenceName", "start", "end", "fields", "tags", "notags")
            if query.get(name) is not None
        ]
        if others:
            raise invalid(f"`class=header` cannot be combined with {', '.join(others)}.")
        return HtsgetQuery(fmt, True, None, encrypted)
    if reference in (None, ""):
        if start is not None or end is not None:
            raise invalid("`start` and `end` need a `referenceName`.")
        return HtsgetQuery(fmt, False, None, encrypted)
    if reference == "*" and (start is not None or end is not None or datatype == VARIANTS):
        raise invalid("`referenceName=*` (unplaced reads) takes no `start` or `end`, and applies to reads only.")
    start_value = _uint("start", start) if start is not None else None
    end_value = _uint("end", end) if end is not None else None
    if start_value is not None and end_value is not None and start_value > end_value:
        raise HtsgetError("InvalidRange", f"`start` ({start_value}) is after `end` ({end_value}).")
    return HtsgetQuery(fmt, False, [Region(reference, start_value, end_value)], encrypted)


def from_post(datatype: str, body: bytes, query) -> HtsgetQuery:
    allowed = {"encryptionScheme"}
    extra = [name for name in query.keys() if name not in allowed]
    if extra:
        raise invalid(f"A POST takes its parameters in the JSON body, not the query string ({', '.join(extra)}).")
    if len(body) > MAX_BODY:
        raise HtsgetError("PayloadTooLarge", f"The request body is larger than {MAX_BODY} bytes.", 413)
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.")
    fmt = _format(datatype, data.get("format"))
    encrypted = _scheme(data.get("encryptionScheme", query.get("encryptionScheme")))
    for name in ("fields", "tags", "notags"):
        if name in data and not (isinstance(data[name], list) and all(isinstance(v, str) for v in data[name])):
            raise invalid(f"`{name}` must be a list of strings.")
    if datatype == VARIANTS and "fields" in data:
        raise invalid("`fields` applies to reads only.")
    _tags(data.get("tags"), data.get("notags"))
    if "class" in data:
        if data["class"] != "header":
            raise invalid(f"`class` may only be `header`, not {data['class']!r}.")
        others = [name for name in ("regions", "fields", "tags", "notags") if name in data]
        if others:
            raise invalid(f"`class=header` cannot be combined with {', '.join(others)}.")
        return HtsgetQuery(fmt, True, None, encrypted)
    if "regions" not in data or data["regions"] is None:
        return HtsgetQuery(fmt, False, None, encrypted)
    regions = data["regions"]
    if not isinstance(regions, list) or not regions:
        raise invalid("`regions` must be a non-empty list.")
    if len(regions) > MAX_REGIONS:
        raise HtsgetError("PayloadTooLarge", f"At most {MAX_REGIONS} regions may be asked for at once.", 413)
    parsed = []
    for number, region in enumerate(regions, 1):
        if (
            not isinstance(region, dict)
            or not isinstance(region.get("referenceName"), str)
            or not region["referenceName"]
        ):
            raise invalid(f"Region {number} needs a `referenceName`.")
        reference = region["referenceName"]
        start = _uint("start", region["start"]) if region.get("start") is not None else None
        end = _uint("end", region["end"]) if region.get("end") is not None else None
        if reference == "*" and (start is not None or end is not None or datatype == VARIANTS):
            raise invalid("`referenceName: *` (unplaced reads) takes no `start` or `end`, and applies to reads only.")
        if start is not None and end is not None and start >= end:
            raise HtsgetError("InvalidRange", f"Region {number}: `start` ({start}) must be before `end` ({end}).")
        parsed.append(Region(reference, start, end))
    return HtsgetQuery(fmt, False, parsed, encrypted)

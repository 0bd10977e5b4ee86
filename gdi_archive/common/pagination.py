"""Keyset (cursor) pagination for every listing of the API.

A listing answers a JSON array, as it always did, of at most `?limit=` rows (default 100, at
most 1000), in a stable order over indexed columns ending with a unique one. When there are more,
the answer carries `Link: <url>; rel="next"` (RFC 8288) whose `cursor` is the sort key of the
last row sent: the next page is `WHERE (key) > (cursor) ORDER BY key LIMIT n`, an index range
scan, so page 10,000 costs what page 1 does (no OFFSET, no COUNT). A cursor is opaque to
clients; a forged or garbled one is a 400, never a 500, and can only move within what the
query already allows.
"""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from .errors import InvalidInput

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

# For `extend_schema(parameters=PAGE_PARAMETERS)` on every listing.
PAGE_PARAMETERS = [
    OpenApiParameter(
        "limit", OpenApiTypes.INT, description=f"Rows per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."
    ),
    OpenApiParameter(
        "cursor",
        OpenApiTypes.STR,
        description='Where the page starts: copy it from the `Link: <...>; rel="next"` header of the previous page.',
    ),
]


def _encode(values: list) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, width: int) -> list:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != width
        or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values)
    ):
        raise InvalidInput("`cursor` is not a cursor this listing gave out.")
    return values


def _limit(raw) -> int:
    if raw in (None, ""):
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"`limit` must be a whole number from 1 to {MAX_LIMIT}.")
    return limit


def _after(order: Sequence[str], values: list) -> Q:
    """Rows after `values` in `order`: (a, b) > (x, y) column by column, each in its own direction."""
    condition = Q()
    for i, field in enumerate(order):
        term = Q(**{f"{field.lstrip('-')}__{'lt' if field.startswith('-') else 'gt'}": values[i]})
        for j, earlier in enumerate(order[:i]):
            term &= Q(**{earlier.lstrip("-"): values[j]})
        condition |= term
    return condition


def _key(row, order: Sequence[str]) -> list:
    values = []
    for field in order:
        value = getattr(row, field.lstrip("-"))
        values.append(value if isinstance(value, int | str) else str(value))
    return values


def _next_url(request, key: list) -> str:
    query = {k: v for k, v in request.query_params.items() if k != "cursor"}
    query["cursor"] = _encode(key)
    return request.build_absolute_uri(request.path) + "?" + urlencode(query)


def _page(request, order: Sequence[str], fetch: Callable[[list | None, int], list], key_of) -> tuple[list, str | None]:
    """The request's page: `fetch(after, n)` reads at most n rows after the cursor's checked
    values (None: from the start); one row more than the limit says there is a next page."""
    limit = _limit(request.query_params.get("limit"))
    cursor = request.query_params.get("cursor")
    rows = fetch(_decode(cursor, len(order)) if cursor else None, limit + 1)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, _next_url(request, key_of(rows[-1]))


def keyset_page(request, queryset: QuerySet, order: Sequence[str]) -> tuple[list, str | None]:
    """One page of `queryset` in `order` (the last field unique) and the URL of the next page, if any."""
    ordered = queryset.order_by(*order)

    def fetch(after, n):
        return list((ordered.filter(_after(order, after)) if after else ordered)[:n])

    return _page(request, order, fetch, lambda row: _key(row, order))


def _answer(rows: list, next_url: str | None) -> Response:
    response = Response(rows)
    if next_url:
        response["Link"] = f'<{next_url}>; rel="next"'
    return response


def paged_response(request, queryset: QuerySet, order: Sequence[str], serialize: Callable[[list], list]) -> Response:
    """The page as a JSON array, with `Link: <next>; rel="next"` when there is more."""
    rows, next_url = keyset_page(request, queryset, order)
    return _answer(serialize(rows), next_url)


def paged_rows(request, fetch: Callable[[list | None, int], list[dict]], order: Sequence[str]) -> Response:
    """The same answer as `paged_response` for a listing that reads its rows itself (plain SQL,
    made once per shape, where building the ORM query cost more CPU than the rest of the request):
    `fetch(after, n)` gives at most n rows, as the dicts to send, in ascending `order` (keys of
    the dicts, the last one unique), after the cursor's values `after` (None: from the start).
    The cursor's values are checked here as for every listing, and are only ever parameters."""
    return _answer(*_page(request, order, fetch, lambda row: [row[field] for field in order]))

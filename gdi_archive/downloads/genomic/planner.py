"""htsget regions -> pieces of the file: its header, the records of the regions, its EOF marker.

BGZF formats (BAM, BCF, bgzipped VCF) are cut at the index's virtual offsets, because a
record may start or end inside a BGZF block (BCF records often span blocks): a piece is a
virtual-offset interval, later turned into whole stored blocks plus, at its edges, small new
BGZF blocks holding just the part of an edge block that belongs to it (see `assemble`). CRAM
is cut at container boundaries, which the CRAI index lists.
"""

import bisect
from collections.abc import Callable
from dataclasses import dataclass

from .indexes import EOF_BGZF, EOF_CRAM, BinnedIndex, CramIndex


class UnknownReference(LookupError):
    pass


@dataclass(frozen=True)
class Region:
    reference: str
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class Stored:
    """Plaintext bytes [start, end) of the file, as they are."""

    start: int
    end: int


@dataclass(frozen=True)
class Virtual:
    """The decompressed stream between two BGZF virtual offsets."""

    start: int
    end: int


def _merge_virtual(pieces: list[tuple[int, int]]) -> list[Virtual]:
    merged: list[list[int]] = []
    for start, end in sorted(p for p in pieces if p[1] > p[0]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [Virtual(s, e) for s, e in merged]


def _binned(index: BinnedIndex, size: int, regions, tid_of: Callable[[str], int], header_only: bool) -> list:
    data_end = size - EOF_BGZF
    chunks = list(index.all_chunks())
    first = min((v for v, _ in chunks), default=data_end << 16)
    pieces = [(0, first)]
    if not header_only:
        for region in regions:
            if region.reference == "*":
                last = max((v for _, v in chunks), default=first)
                pieces.append((last, data_end << 16))
                continue
            tid = tid_of(region.reference)
            beg = region.start or 0
            end = region.end if region.end is not None else index.max_position
            pieces.extend(index.chunks(tid, beg, end))
    return [*_merge_virtual(pieces), Stored(data_end, size)]


def _next_start(starts: list[int], after: int, limit: int) -> int:
    i = bisect.bisect_right(starts, after)
    return min(starts[i], limit) if i < len(starts) else limit


def _cram(index: CramIndex, size: int, regions, tid_of: Callable[[str], int], header_only: bool) -> list:
    data_end = size - EOF_CRAM
    containers = [c for c in index.containers() if c < data_end]
    header_end = containers[0] if containers else data_end
    ranges = [(0, header_end)]
    if not header_only:
        for region in regions:
            wanted = set()
            if region.reference == "*":
                wanted = {e.container for e in index.entries if e.tid == -1}
            else:
                tid = tid_of(region.reference)
                beg = region.start or 0
                end = region.end if region.end is not None else 1 << 62
                for e in index.entries:
                    if e.tid == -2 or (e.tid == tid and e.start < end and e.start + max(e.span, 1) > beg):
                        wanted.add(e.container)
            ranges += [(c, _next_start(containers, c, data_end)) for c in wanted]
    ranges.append((data_end, size))
    merged: list[list[int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [Stored(s, e) for s, e in merged]


def plan_pieces(
    *, index, size: int, regions: list[Region] | None, names: Callable[[], list[str]], header_only: bool = False
) -> list:
    """The pieces to send, in file order (None regions and not header-only: the whole file)."""
    if regions is None and not header_only:
        return [Stored(0, size)]
    cache = {}

    def tid_of(reference: str) -> int:
        if "names" not in cache:
            cache["names"] = getattr(index, "names", None) or names()
        try:
            return cache["names"].index(reference)
        except ValueError:
            raise UnknownReference(reference) from None

    planner = _cram if isinstance(index, CramIndex) else _binned
    return planner(index, size, regions or [], tid_of, header_only)

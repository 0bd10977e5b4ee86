"""htsget regions -> plaintext byte ranges of the file: its header, the blocks, its EOF marker.

Every range starts and ends on a BGZF block (or CRAM container) boundary, so the pieces
concatenate into a valid file. Ends are found from the offsets the index itself knows to be
block starts (as htsget-rs does), so nothing has to be decompressed to find them.
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


@dataclass
class BlockPlan:
    ranges: list[tuple[int, int]]  # plaintext [start, end) pieces, in file order
    header_end: int


def _next_start(starts: list[int], after: int, limit: int) -> int:
    """The first known block start strictly after `after` (or `limit`)."""
    i = bisect.bisect_right(starts, after)
    return min(starts[i], limit) if i < len(starts) else limit


def _binned(index: BinnedIndex, size: int, regions, tid_of: Callable[[str], int], header_only: bool) -> BlockPlan:
    data_end = size - EOF_BGZF
    starts = [s for s in index.block_starts() if s <= data_end]
    chunks = list(index.all_chunks())
    if chunks:
        first = min(v for v, _ in chunks)
        header_end = first >> 16 if first & 0xFFFF == 0 else _next_start(starts, first >> 16, data_end)
    else:
        header_end = data_end

    def chunk_range(vbeg: int, vend: int) -> tuple[int, int]:
        lo = vbeg >> 16
        hi = vend >> 16 if vend & 0xFFFF == 0 else _next_start(starts, vend >> 16, data_end)
        return lo, max(lo, min(hi, data_end))

    ranges = [(0, header_end)]
    if not header_only:
        for region in regions:
            if region.reference == "*":
                if chunks:
                    last = max(v for _, v in chunks)
                    ranges.append((last >> 16, data_end))
                else:
                    ranges.append((header_end, data_end))
                continue
            tid = tid_of(region.reference)
            beg = region.start or 0
            end = region.end if region.end is not None else index.max_position
            for vbeg, vend in index.chunks(tid, beg, end):
                ranges.append(chunk_range(vbeg, vend))
    ranges.append((data_end, size))
    return BlockPlan(ranges=[r for r in ranges if r[1] > r[0]], header_end=header_end)


def _cram(index: CramIndex, size: int, regions, tid_of: Callable[[str], int], header_only: bool) -> BlockPlan:
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
            for container in sorted(wanted):
                ranges.append((container, _next_start(containers, container, data_end)))
    ranges.append((data_end, size))
    return BlockPlan(ranges=[r for r in ranges if r[1] > r[0]], header_end=header_end)


def plan_blocks(*, index, size: int, regions: list[Region] | None, names: Callable[[], list[str]],
                header_only: bool = False) -> BlockPlan:
    """The plaintext byte ranges to send for `regions` (None: the whole file)."""
    if regions is None and not header_only:
        return BlockPlan(ranges=[(0, size)], header_end=0)
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

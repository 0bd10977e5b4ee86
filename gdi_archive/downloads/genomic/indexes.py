"""Genomic indexes (BAI, CSI, TBI, CRAI): which compressed byte ranges hold a region.

Pure functions on the index bytes (already decrypted), no Django. BAI/CSI/TBI are read as the
SAM/tabix specifications lay them out; virtual offsets are `coffset << 16 | uoffset`, where
`coffset` is where a BGZF block starts in the compressed file. CRAI is gzipped text with one
line per slice: reference id, start (1-based), span, container offset, slice offset, size.
"""

import gzip
import struct
import zlib
from dataclasses import dataclass, field

EOF_BGZF = 28  # size of the empty BGZF block that ends BAM, BCF and bgzipped VCF
EOF_CRAM = 38  # size of the CRAM 3 end-of-file container


class IndexError_(ValueError):
    """The index cannot be read (damaged, or not the kind it claims to be)."""


def _gunzip(data: bytes) -> bytes:
    """Decompress BGZF/gzip (several members) as one stream."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise IndexError_(f"The index is not valid gzip/BGZF: {exc}") from None


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise IndexError_("The index ends too early.")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values if len(values) > 1 else values[0]

    def raw(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise IndexError_("The index ends too early.")
        value = self.data[self.pos : self.pos + n]
        self.pos += n
        return value

    def chunks(self, n: int) -> list[tuple[int, int]]:
        if n < 0 or self.pos + 16 * n > len(self.data):
            raise IndexError_("The index ends too early.")
        values = struct.unpack_from(f"<{2 * n}Q", self.data, self.pos)
        self.pos += 16 * n
        return list(zip(values[::2], values[1::2], strict=True))


@dataclass
class RefBins:
    bins: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # bin -> [(vbeg, vend)]
    linear: list[int] = field(default_factory=list)  # BAI/TBI 16 kb linear index (virtual offsets)


@dataclass
class BinnedIndex:
    """BAI, CSI or TBI."""

    kind: str
    min_shift: int
    depth: int
    refs: list[RefBins]
    names: list[str] | None = None  # TBI (and tabix-style CSI) carry the sequence names

    @property
    def pseudo_bin(self) -> int:
        return ((1 << ((self.depth + 1) * 3)) - 1) // 7 + 1

    @property
    def max_position(self) -> int:
        return 1 << (self.min_shift + self.depth * 3)

    def reg2bins(self, beg: int, end: int) -> list[int]:
        """Every bin that may hold a record overlapping [beg, end) (htslib hts_reg2bins)."""
        end = min(end, self.max_position)
        if beg >= end:
            return []
        end -= 1
        bins, offset, shift = [], 0, self.min_shift + self.depth * 3
        for level in range(self.depth + 1):
            bins.extend(range(offset + (beg >> shift), offset + (end >> shift) + 1))
            shift -= 3
            offset += 1 << (level * 3)
        return bins

    def _max_offset(self, ref: RefBins, end: int) -> int:
        """A virtual offset at or after every record that starts before `end` (htslib's max_off):
        the first chunk of the nearest non-empty bin to the right of `end`."""
        first_leaf = ((1 << (3 * self.depth)) - 1) // 7
        n_bins = ((1 << (3 * self.depth + 3)) - 1) // 7
        b = first_leaf + ((end - 1) >> self.min_shift) + 1
        if b >= n_bins:
            b = 0
        while True:
            while b % 8 == 1:
                b = (b - 1) >> 3
            if b == 0:
                return 2**64 - 1
            chunks = ref.bins.get(b)
            if chunks:
                return chunks[0][0]
            b += 1

    def chunks(self, tid: int, beg: int, end: int) -> list[tuple[int, int]]:
        """Virtual-offset chunks holding records of reference `tid` that may overlap [beg, end),
        clipped to the linear index on the left and to the next bin on the right, as htslib does."""
        if tid < 0 or tid >= len(self.refs):
            return []
        end = min(end, self.max_position)
        if beg >= end:
            return []
        ref = self.refs[tid]
        min_offset = 0
        if ref.linear:
            window = beg >> self.min_shift
            min_offset = ref.linear[min(window, len(ref.linear) - 1)]
        max_offset = self._max_offset(ref, end)
        found = []
        for b in self.reg2bins(beg, end):
            for vbeg, vend in ref.bins.get(b, ()):
                if vend > min_offset and vbeg < max_offset:
                    found.append((max(vbeg, min_offset), min(vend, max_offset)))
        return found

    def all_chunks(self):
        for ref in self.refs:
            for _bin, chunks in ref.bins.items():
                yield from chunks

    def block_starts(self) -> list[int]:
        """Every compressed offset the index knows to be the start of a BGZF block."""
        starts = set()
        for vbeg, vend in self.all_chunks():
            starts.add(vbeg >> 16)
            starts.add(vend >> 16)
        for ref in self.refs:
            starts.update(v >> 16 for v in ref.linear)
        return sorted(starts)


def _bins(reader: _Reader, *, csi: bool, pseudo: int) -> RefBins:
    ref = RefBins()
    for _ in range(reader.take("<i")):
        bin_id = reader.take("<I")
        if csi:
            reader.take("<Q")  # loffset
        n_chunk = reader.take("<i")
        chunks = sorted(reader.chunks(n_chunk))
        if bin_id != pseudo:
            ref.bins[bin_id] = chunks
    if not csi:
        n_intv = reader.take("<i")
        if n_intv < 0 or reader.pos + 8 * n_intv > len(reader.data):
            raise IndexError_("The index ends too early.")
        ref.linear = list(struct.unpack_from(f"<{n_intv}Q", reader.data, reader.pos))
        reader.pos += 8 * n_intv
    return ref


def _names(blob: bytes) -> list[str]:
    return [name.decode("utf-8", errors="replace") for name in blob.split(b"\0") if name]


def parse_bai(data: bytes) -> BinnedIndex:
    reader = _Reader(data)
    if reader.raw(4) != b"BAI\1":
        raise IndexError_("This is not a BAI index.")
    n_ref = reader.take("<i")
    index = BinnedIndex("BAI", 14, 5, [])
    index.refs = [_bins(reader, csi=False, pseudo=index.pseudo_bin) for _ in range(n_ref)]
    return index


def parse_tbi(data: bytes) -> BinnedIndex:
    reader = _Reader(_gunzip(data))
    if reader.raw(4) != b"TBI\1":
        raise IndexError_("This is not a tabix (TBI) index.")
    n_ref = reader.take("<i")
    reader.take("<6i")  # format, col_seq, col_beg, col_end, meta, skip
    names = _names(reader.raw(reader.take("<i")))
    index = BinnedIndex("TBI", 14, 5, [], names)
    index.refs = [_bins(reader, csi=False, pseudo=index.pseudo_bin) for _ in range(n_ref)]
    return index


def parse_csi(data: bytes) -> BinnedIndex:
    reader = _Reader(_gunzip(data))
    if reader.raw(4) != b"CSI\1":
        raise IndexError_("This is not a CSI index.")
    min_shift, depth, l_aux = reader.take("<3i")
    aux = reader.raw(l_aux)
    names = None
    if len(aux) >= 28:  # tabix-style meta data: 7 int32, the last the length of the names
        l_nm = struct.unpack_from("<i", aux, 24)[0]
        names = _names(aux[28 : 28 + l_nm]) or None
    index = BinnedIndex("CSI", min_shift, depth, [], names)
    n_ref = reader.take("<i")
    index.refs = [_bins(reader, csi=True, pseudo=index.pseudo_bin) for _ in range(n_ref)]
    return index


@dataclass(frozen=True)
class CraiEntry:
    tid: int  # -1 unmapped, -2 several references in one slice
    start: int  # 0-based
    span: int
    container: int  # byte offset of the container in the file


@dataclass
class CramIndex:
    kind: str
    entries: list[CraiEntry]

    def containers(self) -> list[int]:
        return sorted({entry.container for entry in self.entries})


def parse_crai(data: bytes) -> CramIndex:
    text = _gunzip(data).decode("ascii", errors="replace")
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) < 6:
            raise IndexError_(f"Line {number} of the CRAI index has {len(fields)} fields, not 6.")
        try:
            tid, start, span, container = (int(v) for v in fields[:4])
        except ValueError:
            raise IndexError_(f"Line {number} of the CRAI index is not numeric.") from None
        entries.append(CraiEntry(tid, max(0, start - 1), span, container))
    return CramIndex("CRAI", entries)


PARSERS = {"BAI": parse_bai, "TBI": parse_tbi, "CSI": parse_csi, "CRAI": parse_crai}


def parse_index(kind: str, data: bytes):
    try:
        parser = PARSERS[kind]
    except KeyError:
        raise IndexError_(f"Index format {kind} is not supported.") from None
    return parser(data)

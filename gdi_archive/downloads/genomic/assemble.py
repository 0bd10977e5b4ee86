"""Turn planned pieces into parts: stored plaintext ranges, and small new BGZF blocks.

A `Virtual` piece [vbeg, vend) becomes: a new block with the tail of block `vbeg` (from its
in-block offset), the stored whole blocks in between, and a new block with the head of block
`vend`. Only those two edge blocks are decompressed (at most 64 KiB each), read together when
they are close; everything else is served from storage as it is.
"""

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from .planner import Stored, Virtual

MAX_BLOCK = 65536
NEW_BLOCK_DATA = 60000  # keep even incompressible data under the 64 KiB BGZF block limit
JOIN_READS = 256 * 1024  # edge blocks closer than this are read together (a few segments more at most)
# Deflate level of the new edge blocks: level 1 takes 2.5x less CPU than 6 on BAM records for 8%
# more bytes, and an encrypted ticket pads each new part to a whole 64 KiB segment anyway.
NEW_BLOCK_LEVEL = 1


@dataclass(frozen=True)
class New:
    data: bytes  # complete BGZF blocks, made here


def bgzf_blocks(data: bytes) -> bytes:
    out = []
    for i in range(0, len(data), NEW_BLOCK_DATA):
        piece = data[i : i + NEW_BLOCK_DATA]
        compressor = zlib.compressobj(NEW_BLOCK_LEVEL, zlib.DEFLATED, -15)
        deflated = compressor.compress(piece) + compressor.flush()
        header = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00" + struct.pack(
            "<H", 18 + len(deflated) + 8 - 1
        )
        out.append(header + deflated + struct.pack("<II", zlib.crc32(piece) & 0xFFFFFFFF, len(piece)))
    return b"".join(out)


@dataclass(frozen=True)
class Block:
    size: int  # compressed size
    data: bytes  # decompressed


def parse_block(raw: bytes) -> Block:
    if raw[:4] != b"\x1f\x8b\x08\x04" or len(raw) < 18:
        raise ValueError("not a BGZF block")
    xlen = struct.unpack_from("<H", raw, 10)[0]
    pos, size = 12, None
    while pos < 12 + xlen:
        if raw[pos : pos + 2] == b"BC":
            size = struct.unpack_from("<H", raw, pos + 4)[0] + 1
        pos += 4 + struct.unpack_from("<H", raw, pos + 2)[0]
    if size is None or size > len(raw):
        raise ValueError("damaged BGZF block")
    return Block(size, zlib.decompress(raw[12 + xlen : size - 8], -15))


def _edge_offsets(pieces: list) -> list[int]:
    """Offsets of the edge blocks `resolve` decompresses, in file order."""
    offsets = set()
    for piece in pieces:
        if isinstance(piece, Virtual):
            cb, ub, ce, ue = piece.start >> 16, piece.start & 0xFFFF, piece.end >> 16, piece.end & 0xFFFF
            if cb == ce:
                if ue > ub:
                    offsets.add(cb)
                continue
            if ub:
                offsets.add(cb)
            if ue:
                offsets.add(ce)
    return sorted(offsets)


def read_blocks(offsets: list[int], read_plain: Callable[[int, int], bytes], size: int) -> dict[int, Block]:
    """The blocks at `offsets` (sorted), reading edges less than JOIN_READS apart in one read:
    a region's two edges are usually a block or two apart, and each read is a storage request
    (an S3 GET) plus the segments around it, which neighbouring edges share."""
    blocks: dict[int, Block] = {}
    i = 0
    while i < len(offsets):
        j = i
        while j + 1 < len(offsets) and offsets[j + 1] - offsets[i] < JOIN_READS:
            j += 1
        first = offsets[i]
        raw = read_plain(first, min(size, offsets[j] + MAX_BLOCK))
        for offset in offsets[i : j + 1]:
            blocks[offset] = parse_block(raw[offset - first : offset - first + MAX_BLOCK])
        i = j + 1
    return blocks


def resolve(pieces: list, read_plain: Callable[[int, int], bytes], size: int) -> list:
    """Stored and New parts, in order; neighbouring stored ranges are joined."""
    blocks = read_blocks(_edge_offsets(pieces), read_plain, size)
    block = blocks.__getitem__

    parts: list = []
    for piece in pieces:
        if isinstance(piece, Stored):
            parts.append(piece)
            continue
        assert isinstance(piece, Virtual)
        cb, ub, ce, ue = piece.start >> 16, piece.start & 0xFFFF, piece.end >> 16, piece.end & 0xFFFF
        if cb == ce:
            if ue > ub:
                parts.append(New(bgzf_blocks(block(cb).data[ub:ue])))
            continue
        start = cb
        if ub:
            head = block(cb)
            if head.data[ub:]:
                parts.append(New(bgzf_blocks(head.data[ub:])))
            start = cb + head.size
        if ce > start:
            parts.append(Stored(start, ce))
        if ue:
            parts.append(New(bgzf_blocks(block(ce).data[:ue])))
    joined: list = []
    for part in parts:
        if joined and isinstance(part, Stored) and isinstance(joined[-1], Stored) and joined[-1].end == part.start:
            joined[-1] = Stored(joined[-1].start, part.end)
        else:
            joined.append(part)
    return joined

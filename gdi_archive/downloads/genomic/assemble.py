"""Turn planned pieces into parts: stored plaintext ranges, and small new BGZF blocks.

A `Virtual` piece [vbeg, vend) becomes: a new block with the tail of block `vbeg` (from its
in-block offset), the stored whole blocks in between, and a new block with the head of block
`vend`. Only those two edge blocks are decompressed (at most 64 KiB each); everything else is
served from storage as it is.
"""

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from .planner import Stored, Virtual

MAX_BLOCK = 65536
NEW_BLOCK_DATA = 60000  # keep even incompressible data under the 64 KiB BGZF block limit


@dataclass(frozen=True)
class New:
    data: bytes  # complete BGZF blocks, made here


def bgzf_blocks(data: bytes) -> bytes:
    out = []
    for i in range(0, len(data), NEW_BLOCK_DATA):
        piece = data[i : i + NEW_BLOCK_DATA]
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
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


def resolve(pieces: list, read_plain: Callable[[int, int], bytes], size: int) -> list:
    """Stored and New parts, in order; neighbouring stored ranges are joined."""
    blocks: dict[int, Block] = {}

    def block(offset: int) -> Block:
        if offset not in blocks:
            blocks[offset] = parse_block(read_plain(offset, min(size, offset + MAX_BLOCK)))
        return blocks[offset]

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

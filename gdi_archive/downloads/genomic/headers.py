"""Reference names from the start of a BAM, BCF or CRAM file (plaintext, decrypted in memory).

htsget addresses regions by reference name; BAI/CSI/CRAI indexes use the position of the
reference in the file header, so the header's list of names is needed to map one to the other.
VCF's tabix index carries the names itself.
"""

import struct
import zlib

from .indexes import IndexError_


def bgzf_decompress(data: bytes) -> bytes:
    """Decompress whole BGZF blocks; stops quietly at a truncated block at the end."""
    out, pos = [], 0
    while pos + 18 <= len(data):
        if data[pos : pos + 4] != b"\x1f\x8b\x08\x04":
            raise IndexError_("The file does not start with BGZF blocks.")
        xlen = struct.unpack_from("<H", data, pos + 10)[0]
        block_size, extra = None, pos + 12
        while extra < pos + 12 + xlen:
            si1, si2, slen = data[extra], data[extra + 1], struct.unpack_from("<H", data, extra + 2)[0]
            if si1 == 66 and si2 == 67:
                block_size = struct.unpack_from("<H", data, extra + 4)[0] + 1
            extra += 4 + slen
        if block_size is None:
            raise IndexError_("A BGZF block lacks its size field.")
        if pos + block_size > len(data):
            break
        out.append(zlib.decompress(data[pos + 12 + xlen : pos + block_size - 8], -15))
        pos += block_size
    return b"".join(out)


def bam_reference_names(data: bytes) -> list[str]:
    raw = bgzf_decompress(data)
    if raw[:4] != b"BAM\1" or len(raw) < 12:
        raise IndexError_("This is not a BAM file.")
    l_text = struct.unpack_from("<i", raw, 4)[0]
    pos = 8 + l_text
    n_ref = struct.unpack_from("<i", raw, pos)[0]
    pos += 4
    names = []
    for _ in range(n_ref):
        if pos + 4 > len(raw):
            raise IndexError_("The BAM header is longer than the bytes read.")
        l_name = struct.unpack_from("<i", raw, pos)[0]
        names.append(raw[pos + 4 : pos + 4 + l_name].rstrip(b"\0").decode("utf-8", errors="replace"))
        pos += 4 + l_name + 4
    return names


def _vcf_contigs(text: str) -> list[str]:
    """Contig ids in dictionary order: IDX= when given, else the order of ##contig lines."""
    contigs = []
    for line in text.splitlines():
        if not line.startswith("##contig=<"):
            continue
        fields = {}
        for item in line[len("##contig=<") : -1].split(","):
            if "=" in item:
                key, value = item.split("=", 1)
                fields[key.strip()] = value.strip()
        if "ID" in fields:
            contigs.append((int(fields["IDX"]) if fields.get("IDX", "").isdigit() else None, fields["ID"]))
    if contigs and all(idx is not None for idx, _ in contigs):
        size = max(idx for idx, _ in contigs) + 1
        names = [""] * size
        for idx, name in contigs:
            names[idx] = name
        return names
    return [name for _, name in contigs]


def bcf_reference_names(data: bytes) -> list[str]:
    raw = bgzf_decompress(data)
    if raw[:3] != b"BCF" or len(raw) < 9:
        raise IndexError_("This is not a BCF file.")
    l_text = struct.unpack_from("<I", raw, 5)[0]
    return _vcf_contigs(raw[9 : 9 + l_text].decode("utf-8", errors="replace"))


def _itf8(data: bytes, pos: int) -> tuple[int, int]:
    b0 = data[pos]
    if b0 < 0x80:
        return b0, pos + 1
    if b0 < 0xC0:
        return ((b0 & 0x3F) << 8) | data[pos + 1], pos + 2
    if b0 < 0xE0:
        return ((b0 & 0x1F) << 16) | (data[pos + 1] << 8) | data[pos + 2], pos + 3
    if b0 < 0xF0:
        return ((b0 & 0x0F) << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3], pos + 4
    value = (
        ((b0 & 0x0F) << 28)
        | (data[pos + 1] << 20)
        | (data[pos + 2] << 12)
        | (data[pos + 3] << 4)
        | (data[pos + 4] & 0x0F)
    )
    return value, pos + 5


def _ltf8(data: bytes, pos: int) -> tuple[int, int]:
    b0 = data[pos]
    n = 0
    while n < 8 and b0 & (0x80 >> n):
        n += 1
    if n == 8:
        return int.from_bytes(data[pos + 1 : pos + 9], "big"), pos + 9
    value = b0 & (0xFF >> (n + 1))
    for i in range(n):
        value = (value << 8) | data[pos + 1 + i]
    return value, pos + 1 + n


def cram_reference_names(data: bytes) -> list[str]:
    """The @SQ names from the SAM header held in the CRAM file-header container (CRAM 3)."""
    if data[:4] != b"CRAM" or len(data) < 30:
        raise IndexError_("This is not a CRAM file.")
    major = data[4]
    pos = 26 + 4  # file definition, then the container's length
    _, pos = _itf8(data, pos)  # reference id
    _, pos = _itf8(data, pos)  # start
    _, pos = _itf8(data, pos)  # span
    _, pos = _itf8(data, pos)  # records
    _, pos = (_ltf8 if major >= 3 else _itf8)(data, pos)  # record counter
    _, pos = (_ltf8 if major >= 3 else _itf8)(data, pos)  # bases
    _, pos = _itf8(data, pos)  # blocks
    landmarks, pos = _itf8(data, pos)
    for _ in range(landmarks):
        _, pos = _itf8(data, pos)
    if major >= 3:
        pos += 4  # crc32
    method, _content_type = data[pos], data[pos + 1]
    pos += 2
    _, pos = _itf8(data, pos)  # content id
    size, pos = _itf8(data, pos)
    _raw_size, pos = _itf8(data, pos)
    payload = data[pos : pos + size]
    if method == 1:
        payload = zlib.decompress(payload, 31)
    elif method != 0:
        raise IndexError_("The CRAM header block uses a compression this archive cannot read.")
    l_text = struct.unpack_from("<i", payload, 0)[0]
    text = payload[4 : 4 + l_text].decode("utf-8", errors="replace")
    names = []
    for line in text.splitlines():
        if line.startswith("@SQ"):
            for field in line.split("\t")[1:]:
                if field.startswith("SN:"):
                    names.append(field[3:])
    return names

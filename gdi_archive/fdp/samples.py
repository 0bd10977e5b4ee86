"""Sample ids from the plaintext header of a ready file: VCF/BCF sample columns, BAM read groups' SM.

Only the header is decrypted (in memory, growing the read until the header is complete); the
ids are kept on the File so the FAIR Data Point can count a dataset's unique individuals (and
the Beacon may reuse them) without decrypting again. Genotypes are never read here.
"""

import struct
import zlib

from gdi_archive.catalogue.models import File
from gdi_archive.downloads.genomic.headers import bgzf_decompress
from gdi_archive.downloads.htsget.tickets import read_plaintext

FIRST_READ = 256 * 1024
MAX_READ = 32 * 1024 * 1024


class Incomplete(Exception):
    """The bytes read end before the header does: read more."""


def _vcf_samples(text: str, complete: bool) -> list[str]:
    for line in text.splitlines():
        if line.startswith("#CHROM"):
            if not complete and not text.split("#CHROM", 1)[1].count("\n"):
                raise Incomplete
            return [name for name in line.rstrip("\r").split("\t")[9:] if name]
        if not line.startswith("#"):
            return []
    raise Incomplete


def _text_of(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return bgzf_decompress(data) if data[3:4] == b"\x04" else zlib.decompressobj(31).decompress(data)
    return data


def vcf_samples(data: bytes, complete: bool) -> list[str]:
    return _vcf_samples(_text_of(data).decode("utf-8", errors="replace"), complete)


def bcf_samples(data: bytes, complete: bool) -> list[str]:
    raw = bgzf_decompress(data)
    if raw[:3] != b"BCF":
        raise ValueError("not a BCF file")
    if len(raw) < 9:
        raise Incomplete
    l_text = struct.unpack_from("<I", raw, 5)[0]
    if len(raw) < 9 + l_text:
        raise Incomplete
    return _vcf_samples(raw[9 : 9 + l_text].decode("utf-8", errors="replace"), True)


def bam_samples(data: bytes, complete: bool) -> list[str]:
    raw = bgzf_decompress(data)
    if raw[:4] != b"BAM\1":
        raise ValueError("not a BAM file")
    if len(raw) < 8:
        raise Incomplete
    l_text = struct.unpack_from("<i", raw, 4)[0]
    if len(raw) < 8 + l_text:
        raise Incomplete
    samples = []
    for line in raw[8 : 8 + l_text].decode("utf-8", errors="replace").splitlines():
        if line.startswith("@RG"):
            for tag in line.split("\t")[1:]:
                if tag.startswith("SM:") and tag[3:] not in samples:
                    samples.append(tag[3:])
    return samples


READERS = {File.Format.VCF: vcf_samples, File.Format.BCF: bcf_samples, File.Format.BAM: bam_samples}


def read_sample_ids(file: File) -> list[str] | None:
    """The file's sample ids, or None for a format whose header we do not read (CRAM, other)."""
    reader = READERS.get(file.format)
    if reader is None or file.index_of_id or not file.plaintext_size:
        return None
    size = FIRST_READ
    while True:
        end = min(size, file.plaintext_size)
        try:
            return reader(read_plaintext(file, 0, end), end >= file.plaintext_size)
        except Incomplete:
            if end >= file.plaintext_size or size >= MAX_READ:
                return None
            size *= 4

"""Inbox names: what a submitter may call an upload, and what that name tells us.

An upload is `<file name>.c4gh`; the catalogue shows the name without `.c4gh`. An index is
named after its data file: `sample.bam.bai.c4gh` belongs to `sample.bam`.
"""

import re

from gdi_archive.catalogue.models import File

SUFFIX = ".c4gh"
MAX_NAME_LENGTH = 255
_SAFE = re.compile(r"[A-Za-z0-9._-]+")

INDEX_FORMATS = {".bai": File.Format.BAI, ".crai": File.Format.CRAI, ".tbi": File.Format.TBI, ".csi": File.Format.CSI}
DATA_FORMATS = {
    ".bam": File.Format.BAM,
    ".cram": File.Format.CRAM,
    ".vcf": File.Format.VCF,
    ".vcf.gz": File.Format.VCF,
    ".vcf.bgz": File.Format.VCF,
    ".bcf": File.Format.BCF,
}


def check_inbox_name(name: str) -> str | None:
    """None if `name` is acceptable, else a sentence saying what is wrong."""
    if not name:
        return "The file name is empty."
    if len(name) > MAX_NAME_LENGTH:
        return f"The file name is longer than {MAX_NAME_LENGTH} characters."
    if not _SAFE.fullmatch(name):
        return "The file name may contain only letters A-Z and a-z, digits, '.', '_' and '-'."
    if name.startswith("."):
        return "The file name may not start with a dot."
    if not name.endswith(SUFFIX) or len(name) == len(SUFFIX):
        return "Upload Crypt4GH files only: the name must end in .c4gh (encrypt with the archive's public key)."
    if ".." in name:
        return "The file name may not contain '..'."
    return None


def catalogue_name(inbox_name: str) -> str:
    return inbox_name[: -len(SUFFIX)] if inbox_name.endswith(SUFFIX) else inbox_name


def file_format(name: str) -> str:
    """The format from the name's extension (the name without .c4gh)."""
    lowered = name.lower()
    for ext, fmt in {**INDEX_FORMATS, **DATA_FORMATS}.items():
        if lowered.endswith(ext):
            return fmt
    return File.Format.OTHER


def is_index_format(fmt: str) -> bool:
    return fmt in INDEX_FORMATS.values()


def data_file_name(index_name: str) -> str | None:
    """`sample.bam.bai` -> `sample.bam`; None when the name is not an index's."""
    lowered = index_name.lower()
    for ext in INDEX_FORMATS:
        if lowered.endswith(ext) and len(index_name) > len(ext):
            return index_name[: -len(ext)]
    return None


def index_names(data_name: str) -> list[str]:
    """The names an index of `data_name` may have."""
    return [data_name + ext for ext in INDEX_FORMATS]

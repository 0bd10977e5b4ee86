"""Chromosome names and assemblies: `22`, `chr22` and `NC_000022.11` are the same chromosome."""

import re

ASSEMBLIES = {"grch38": "GRCh38", "hg38": "GRCh38", "grch37": "GRCh37", "hg19": "GRCh37", "b37": "GRCh37"}
# RefSeq accessions of the primary chromosomes: (GRCh37 version, GRCh38 version).
_REFSEQ_VERSION = {
    "1": (10, 11),
    "2": (11, 12),
    "3": (11, 12),
    "4": (11, 12),
    "5": (9, 10),
    "6": (11, 12),
    "7": (13, 14),
    "8": (10, 11),
    "9": (11, 12),
    "10": (10, 11),
    "11": (9, 10),
    "12": (11, 12),
    "13": (10, 11),
    "14": (8, 9),
    "15": (9, 10),
    "16": (9, 10),
    "17": (10, 11),
    "18": (9, 10),
    "19": (9, 10),
    "20": (10, 11),
    "21": (8, 9),
    "22": (10, 11),
    "X": (10, 11),
    "Y": (9, 10),
}
_REFSEQ = re.compile(r"^NC_0000(\d\d)\.\d+$", re.IGNORECASE)


def chromosome(name: str) -> str:
    """The normalised name: `chr22` -> `22`, `NC_000022.11` -> `22`, `chrM` -> `MT`, `x` -> `X`."""
    value = (name or "").strip()
    match = _REFSEQ.match(value)
    if match:
        number = int(match.group(1))
        return {23: "X", 24: "Y", 12920: "MT"}.get(number, str(number))
    if value.lower().startswith("chr"):
        value = value[3:]
    upper = value.upper()
    if upper in ("M", "MT"):
        return "MT"
    if upper in ("X", "Y"):
        return upper
    return value.lstrip("0") or value


def refseq(chrom: str, assembly: str) -> str:
    """The RefSeq accession of a normalised chromosome, or `chrom` itself if we do not know it."""
    versions = _REFSEQ_VERSION.get(chrom)
    if not versions:
        return chrom
    number = {"X": 23, "Y": 24}.get(chrom) or int(chrom)
    return f"NC_{number:06d}.{versions[1] if assembly == 'GRCh38' else versions[0]}"


def assembly(value: str | None) -> str | None:
    """`GRCh38`, `hg38`, `grch38.p14` ... -> `GRCh38`; None when not recognisable."""
    if not value:
        return None
    lowered = value.strip().lower()
    for key, name in ASSEMBLIES.items():
        if lowered.startswith(key):
            return name
    return None


def assembly_from_header(header_lines: list[str]) -> str | None:
    """The assembly a VCF header names (`##reference=`, `##assembly=` or a contig's `assembly=`)."""
    for line in header_lines:
        lowered = line.lower()
        if lowered.startswith(("##reference=", "##assembly=")):
            value = line.split("=", 1)[1].strip().rstrip("/")
            for part in re.split(r"[/\\:]", value)[::-1]:
                found = assembly(part.replace("_", "").replace("Homo_sapiens_assembly", ""))
                if found:
                    return found
                for key in ASSEMBLIES:
                    if key in part.lower():
                        return ASSEMBLIES[key]
        if lowered.startswith("##contig=") and "assembly=" in lowered:
            found = assembly(re.search(r"assembly=([^,>]+)", line, re.IGNORECASE).group(1).strip('"'))
            if found:
                return found
    return None


def variant_type(ref: str, alt: str) -> str:
    if alt.startswith("<"):
        return alt.strip("<>").split(":")[0]
    if len(ref) == 1 and len(alt) == 1:
        return "SNP"
    if len(ref) == len(alt):
        return "MNP"
    return "INDEL"

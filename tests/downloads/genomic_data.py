"""Small synthetic BAM, CRAM, VCF and BCF files with indexes, made with pysam/htslib tools."""

import random
import subprocess
from pathlib import Path

import pysam

REFERENCES = [("chr1", 2_000_000), ("chr2", 1_000_000)]


def make_bam(folder: Path, *, reads_per_ref: int = 20000, unmapped: int = 50, seed: int = 7) -> Path:
    """A coordinate-sorted, indexed BAM spanning many BGZF blocks, with unplaced reads at the end."""
    rng = random.Random(seed)
    header = {"HD": {"VN": "1.6", "SO": "unsorted"}, "SQ": [{"SN": n, "LN": ln} for n, ln in REFERENCES]}
    unsorted = folder / "unsorted.bam"
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        number = 0
        for tid, (_, length) in enumerate(REFERENCES):
            for _ in range(reads_per_ref):
                read = pysam.AlignedSegment(out.header)
                read.query_name = f"read{number}"
                number += 1
                read.reference_id = tid
                read.reference_start = rng.randrange(0, length - 200)
                read.query_sequence = "".join(rng.choice("ACGT") for _ in range(100))
                read.query_qualities = pysam.qualitystring_to_array("I" * 100)
                read.cigarstring = "100M"
                read.mapping_quality = 60
                read.flag = 0
                out.write(read)
        for _ in range(unmapped):
            read = pysam.AlignedSegment(out.header)
            read.query_name = f"unplaced{number}"
            number += 1
            read.reference_id = -1
            read.reference_start = -1
            read.flag = 4
            read.query_sequence = "".join(rng.choice("ACGT") for _ in range(100))
            read.query_qualities = pysam.qualitystring_to_array("I" * 100)
            out.write(read)
    path = folder / "sample.bam"
    pysam.sort("-o", str(path), str(unsorted))
    pysam.index(str(path))
    unsorted.unlink()
    return path


def make_reference(folder: Path, seed: int = 3) -> Path:
    rng = random.Random(seed)
    path = folder / "ref.fa"
    with open(path, "w") as out:
        for name, length in REFERENCES:
            out.write(f">{name}\n")
            seq = "".join(rng.choice("ACGT") for _ in range(length))
            for i in range(0, length, 60):
                out.write(seq[i : i + 60] + "\n")
    pysam.faidx(str(path))
    return path


def make_cram(folder: Path, bam: Path) -> tuple[Path, Path]:
    reference = make_reference(folder)
    path = folder / "sample.cram"
    subprocess.run(
        [
            "samtools",
            "view",
            "-C",
            "-T",
            str(reference),
            "--output-fmt-option",
            "seqs_per_slice=500",
            "-o",
            str(path),
            str(bam),
        ],
        check=True,
    )
    subprocess.run(["samtools", "index", str(path)], check=True)
    return path, reference


def make_vcf(folder: Path, *, records_per_ref: int = 8000, seed: int = 11) -> Path:
    """A bgzipped, tabix-indexed VCF."""
    rng = random.Random(seed)
    text = folder / "calls.vcf"
    with open(text, "w") as out:
        out.write("##fileformat=VCFv4.2\n")
        for name, length in REFERENCES:
            out.write(f"##contig=<ID={name},length={length}>\n")
        out.write('##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n')
        out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n")
        for name, length in REFERENCES:
            for pos in sorted(rng.sample(range(1, length), records_per_ref)):
                ref = rng.choice("ACGT")
                alt = rng.choice([b for b in "ACGT" if b != ref])
                out.write(f"{name}\t{pos}\tv{pos}\t{ref}\t{alt}\t50\tPASS\tDP={rng.randrange(5, 90)}\tGT\t0/1\n")
    path = folder / "calls.vcf.gz"
    subprocess.run(["bcftools", "view", "-Oz", "-o", str(path), str(text)], check=True)
    subprocess.run(["tabix", "-p", "vcf", str(path)], check=True)
    return path


def make_bcf(folder: Path, vcf: Path) -> Path:
    path = folder / "calls.bcf"
    subprocess.run(["bcftools", "view", "-Ob", "-o", str(path), str(vcf)], check=True)
    subprocess.run(["bcftools", "index", str(path)], check=True)  # CSI
    return path


def reads_in(path: Path, reference: str, start: int, end: int, *, fasta: Path | None = None) -> list[str]:
    """Records overlapping [start, end) in any BAM/CRAM, indexed or not (a full scan)."""
    found = []
    with pysam.AlignmentFile(str(path), reference_filename=str(fasta) if fasta else None) as alignments:
        for read in alignments.fetch(until_eof=True):
            if read.reference_name == reference and read.reference_start < end and read.reference_end > start:
                found.append(read.to_string())
    return found


def variants_in(path: Path, reference: str, start: int, end: int) -> list[str]:
    out = subprocess.run(["bcftools", "view", "-H", str(path)], check=True, capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split("\t")
        pos0 = int(fields[1]) - 1
        if fields[0] == reference and pos0 < end and pos0 + len(fields[3]) > start:
            found.append(line)
    return found

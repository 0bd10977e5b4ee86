"""Make the demo dataset's files: a small BAM + BAI and a bgzipped VCF + TBI, all synthetic.

Run once by a developer (`.venv/bin/python gdi_archive/catalogue/demo/make_demo_files.py`,
needs pysam from requirements-dev.txt); the output is committed so that `make run` needs no
pysam. Every base, quality and genotype comes from a seeded random generator: there is no data
from any person in these files. Contig names look like GRCh38's chr20/chr21 so that htsget
region queries read naturally, but the sequence is random and no reference is needed.
"""

import random
from pathlib import Path

import pysam

HERE = Path(__file__).resolve().parent
BAM = HERE / "demo-sample.bam"
VCF = HERE / "demo-variants.vcf"
CONTIGS = [("chr20", 64444167), ("chr21", 46709983)]
READS_PER_CONTIG = 200
READ_LENGTH = 100
REGION = 200_000  # reads and variants fall in the first 200 kb of each contig
VARIANTS_PER_CONTIG = 20
NOTE = "Synthetic data for the gdi-archive demo; random sequence, not from any person."


def make_bam(rng: random.Random) -> None:
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": name, "LN": length} for name, length in CONTIGS],
        "RG": [{"ID": "demo", "SM": "DEMO-SAMPLE-1", "PL": "ILLUMINA", "LB": "demo-lib"}],
        "CO": [NOTE],
    }
    reads = []
    for tid, (name, _) in enumerate(CONTIGS):
        for number in range(READS_PER_CONTIG):
            reads.append((tid, rng.randrange(1, REGION - READ_LENGTH), f"demo-{name}-{number:04d}"))
    reads.sort()
    with pysam.AlignmentFile(str(BAM), "wb", header=header) as out:
        for tid, pos, qname in reads:
            read = pysam.AlignedSegment(out.header)
            read.query_name = qname
            read.reference_id = tid
            read.reference_start = pos
            read.mapping_quality = 60
            read.cigarstring = f"{READ_LENGTH}M"
            read.flag = 16 if rng.random() < 0.5 else 0
            read.query_sequence = "".join(rng.choice("ACGT") for _ in range(READ_LENGTH))
            read.query_qualities = pysam.qualitystring_to_array(
                "".join(chr(33 + rng.randrange(20, 41)) for _ in range(READ_LENGTH))
            )
            read.set_tag("RG", "demo")
            out.write(read)
    pysam.index(str(BAM))  # writes demo-sample.bam.bai


def make_vcf(rng: random.Random) -> None:
    lines = [
        "##fileformat=VCFv4.2",
        f"##comment={NOTE}",
        *(f"##contig=<ID={name},length={length}>" for name, length in CONTIGS),
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tDEMO-SAMPLE-1",
    ]
    for name, _ in CONTIGS:
        for pos in sorted(rng.sample(range(1000, REGION), VARIANTS_PER_CONTIG)):
            ref = rng.choice("ACGT")
            alt = rng.choice([base for base in "ACGT" if base != ref])
            genotype = rng.choice(["0/1", "1/1", "0/1"])
            lines.append(
                f"{name}\t{pos}\t.\t{ref}\t{alt}\t{rng.randrange(30, 99)}\tPASS\tDP={rng.randrange(10, 60)}\tGT\t{genotype}"
            )
    VCF.write_text("\n".join(lines) + "\n")
    # bgzip to demo-variants.vcf.gz and write demo-variants.vcf.gz.tbi; the plain text is removed.
    pysam.tabix_index(str(VCF), preset="vcf", force=True)


def main() -> None:
    rng = random.Random(20261125)
    make_bam(rng)
    make_vcf(rng)
    for path in sorted(HERE.glob("demo-*")):
        print(f"{path.name}\t{path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

"""Make the demo dataset's files: a small BAM + BAI, a bgzipped VCF + TBI and the individuals.

Run once by a developer (`.venv/bin/python gdi_archive/catalogue/demo/make_demo_files.py`,
needs pysam from requirements-dev.txt); the output is committed so that `make run` needs no
pysam. Every base, quality and genotype comes from a seeded random generator: there is no data
from any person in these files. Contig names look like GRCh38's chr20/chr21 so that htsget
region queries read naturally, but the sequence is random and no reference is needed.

The VCF has SAMPLES synthetic people (the BAM's DEMO-SAMPLE-1 is the first) with genotypes
drawn from a seeded generator, and `demo-individuals.json` describes them as Beacon individuals
(sex, country, diseases with ICD10 codes and ages of onset, phenotypic features), so that the
Beacon answers out of the box: every population (ALL, EE, F, EE_F, ...) is big enough for
allele counts over BEACON_MIN_COUNT (5) at the commoner sites.
"""

import json
import random
from pathlib import Path

import pysam

HERE = Path(__file__).resolve().parent
BAM = HERE / "demo-sample.bam"
VCF = HERE / "demo-variants.vcf"
INDIVIDUALS = HERE / "demo-individuals.json"
SAMPLES = [f"DEMO-SAMPLE-{n}" for n in range(1, 31)]
CONTIGS = [("chr20", 64444167), ("chr21", 46709983)]
READS_PER_CONTIG = 200
READ_LENGTH = 100
REGION = 200_000  # reads and variants fall in the first 200 kb of each contig
VARIANTS_PER_CONTIG = 25
# Allele frequencies the sites are drawn from: rare ones stay under BEACON_MIN_COUNT (not shown).
FREQUENCIES = (0.03, 0.15, 0.3, 0.45, 0.6)
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


def _genotype(rng: random.Random, frequency: float) -> str:
    if rng.random() < 0.02:
        return "./."  # a missing call now and then, as in real data
    alleles = sorted(int(rng.random() < frequency) for _ in range(2))
    return f"{alleles[0]}/{alleles[1]}"


def make_vcf(rng: random.Random) -> None:
    lines = [
        "##fileformat=VCFv4.2",
        f"##comment={NOTE}",
        "##reference=GRCh38",
        *(f"##contig=<ID={name},length={length},assembly=GRCh38>" for name, length in CONTIGS),
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(SAMPLES),
    ]
    for name, _ in CONTIGS:
        for pos in sorted(rng.sample(range(1000, REGION), VARIANTS_PER_CONTIG)):
            ref = rng.choice("ACGT")
            alt = rng.choice([base for base in "ACGT" if base != ref])
            frequency = rng.choice(FREQUENCIES)
            genotypes = "\t".join(_genotype(rng, frequency) for _ in SAMPLES)
            lines.append(
                f"{name}\t{pos}\t.\t{ref}\t{alt}\t{rng.randrange(30, 99)}\tPASS\tDP={rng.randrange(300, 900)}\tGT\t{genotypes}"
            )
    VCF.write_text("\n".join(lines) + "\n")
    # bgzip to demo-variants.vcf.gz and write demo-variants.vcf.gz.tbi; the plain text is removed.
    pysam.tabix_index(str(VCF), preset="vcf", force=True)


# Beacon individuals (the default model's individual schema), synthetic like everything here.
FEMALE = {"id": "NCIT:C16576", "label": "female"}
MALE = {"id": "NCIT:C20197", "label": "male"}
ORIGINS = [  # 20 from Estonia, 6 from Finland, 4 from Latvia
    *[{"id": "GAZ:00002959", "label": "Estonia"}] * 20,
    *[{"id": "GAZ:00002937", "label": "Finland"}] * 6,
    *[{"id": "GAZ:00002958", "label": "Latvia"}] * 4,
]
DISEASES = [
    ({"id": "ICD10:E11.9", "label": "Type 2 diabetes mellitus without complications"}, (40, 70)),
    ({"id": "ICD10:I10", "label": "Essential (primary) hypertension"}, (35, 65)),
    ({"id": "ICD10:J45.9", "label": "Asthma, unspecified"}, (5, 30)),
]
PHENOTYPES = [
    {"id": "HP:0001513", "label": "Obesity"},
    {"id": "HP:0002094", "label": "Dyspnea"},
    {"id": "HP:0000822", "label": "Hypertension"},
]


def make_individuals(rng: random.Random) -> None:
    records = []
    for n, sample in enumerate(SAMPLES):
        record = {"id": sample, "sex": FEMALE if n % 2 == 0 else MALE, "geographicOrigin": ORIGINS[n]}
        diseases = []
        for code, (youngest, oldest) in DISEASES:
            if rng.random() < 0.4:
                diseases.append(
                    {"diseaseCode": code, "ageOfOnset": {"iso8601duration": f"P{rng.randrange(youngest, oldest)}Y"}}
                )
        if diseases:
            record["diseases"] = diseases
        features = [{"featureType": term} for term in PHENOTYPES if rng.random() < 0.3]
        if features:
            record["phenotypicFeatures"] = features
        records.append(record)
    INDIVIDUALS.write_text(json.dumps(records, indent=1) + "\n")


def main() -> None:
    make_bam(random.Random(20261125))
    make_vcf(random.Random(20261202))
    make_individuals(random.Random(20261203))
    for path in sorted(HERE.glob("demo-*")):
        print(f"{path.name}\t{path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

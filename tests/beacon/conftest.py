"""Beacon fixtures: one small synthetic VCF (module scope), its individuals, the Beacon schemas."""

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = [f"S{n:02d}" for n in range(1, 31)]
GAZ = {"EE": {"id": "GAZ:00002959", "label": "Estonia"}, "FI": {"id": "GAZ:00002937", "label": "Finland"}}


def shared_dir() -> Path | None:
    """The shared standards folder: $GDI_SHARED_DIR, <repo>/../shared or /work/shared."""
    for candidate in (os.environ.get("GDI_SHARED_DIR"), REPO.parent / "shared", "/work/shared"):
        if candidate and (Path(candidate) / "standards" / "beacon-v2").is_dir():
            return Path(candidate)
    return None


def beacon_standards() -> Path:
    shared = shared_dir()
    if shared is None:
        pytest.skip("The Beacon v2 schemas (../shared/standards/beacon-v2) are not here: set GDI_SHARED_DIR.")
    return shared / "standards" / "beacon-v2"


class _Anything(dict):
    """An empty schema (accepts anything) in which every JSON pointer finds another such schema."""

    def __missing__(self, key):
        return _Anything()


# The genomic variation model refers to GA4GH VRS 1.3, which the shared copy does not hold: the
# parts it uses, written from the VRS 1.3 specification (a `type` tells the classes apart).
VRS_1_3 = "https://w3id.org/ga4gh/schema/vrs/1.3/vrs.json"
_NUMBER = {
    "type": "object",
    "required": ["type", "value"],
    "properties": {"type": {"const": "Number"}, "value": {"type": "integer"}},
}
VRS_1_3_SUBSET = {
    "definitions": {
        "Number": _NUMBER,
        "SequenceInterval": {
            "type": "object",
            "required": ["type", "start", "end"],
            "properties": {
                "type": {"const": "SequenceInterval"},
                "start": {"$ref": "#/definitions/Number"},
                "end": {"$ref": "#/definitions/Number"},
            },
        },
        "SequenceLocation": {
            "type": "object",
            "required": ["type", "sequence_id", "interval"],
            "properties": {
                "type": {"const": "SequenceLocation"},
                "sequence_id": {"type": "string", "pattern": "^\\w[^:]*:.+$"},
                "interval": {"$ref": "#/definitions/SequenceInterval"},
            },
        },
        "ChromosomeLocation": {
            "type": "object",
            "required": ["type", "species_id", "chr", "interval"],
            "properties": {"type": {"const": "ChromosomeLocation"}},
        },
        "Location": {
            "oneOf": [{"$ref": "#/definitions/SequenceLocation"}, {"$ref": "#/definitions/ChromosomeLocation"}]
        },
        "MolecularVariation": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": ["Allele", "Haplotype"]}},
        },
        "SystemicVariation": {"type": "object", "required": ["type"], "properties": {"type": {"const": "CopyNumber"}}},
    }
}

MODEL_SCHEMAS = {
    "individual": "models/json/beacon-v2-default-model/individuals/defaultSchema.json",
    "genomicVariation": "models/json/beacon-v2-default-model/genomicVariations/defaultSchema.json",
}


class Schemas:
    """jsonschema validators over the local copy; remote $refs to the spec's GitHub are read locally."""

    REMOTE = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/"

    def __init__(self, root: Path):
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.root = root

        def retrieve(uri: str):
            if uri.startswith(self.REMOTE):
                path = root / uri[len(self.REMOTE) :].split("#")[0]
            elif uri.startswith("file://"):
                path = Path(uri[len("file://") :].split("#")[0])
            elif uri.startswith(VRS_1_3):
                return Resource.from_contents(VRS_1_3_SUBSET, default_specification=DRAFT202012)
            else:  # other outside schemas (not in the copy): any value, at any pointer
                return Resource.from_contents(_Anything(), default_specification=DRAFT202012)
            return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT202012)

        self.registry = Registry(retrieve=retrieve)

    def validate(self, document: dict, relative: str) -> None:
        from jsonschema import Draft202012Validator

        path = self.root / relative
        schema = {"$ref": path.as_uri()}
        Draft202012Validator(schema, registry=self.registry).validate(document)

    def response(self, document: dict, name: str) -> None:
        self.validate(document, f"framework/json/responses/{name}.json")

    def model(self, entity_type: str) -> str | None:
        """The default model's schema for an entity type (relative path), None if not in the copy."""
        relative = MODEL_SCHEMAS.get(entity_type)
        if relative is None or not (self.root / relative).is_file():
            return None
        return relative

    def record(self, document: dict, entity_type: str) -> None:
        """One returned record against its entity's default-model schema; skip if that is absent."""
        relative = self.model(entity_type)
        if relative is None:
            pytest.skip(
                f"The Beacon v2 default model's {entity_type} schema ({MODEL_SCHEMAS.get(entity_type)}) "
                f"is not in {self.root}: records cannot be checked."
            )
        self.validate(document, relative)


@pytest.fixture(scope="session")
def schemas():
    return Schemas(beacon_standards())


def validate_answer(schemas: Schemas, body: dict) -> None:
    """Check an entry answer against the response schema its shape claims."""
    if "error" in body:
        schemas.response(body, "beaconErrorResponse")
    elif "response" in body and "resultSets" in body["response"]:
        schemas.response(body, "beaconResultsetsResponse")
    elif "response" in body and "collections" in body["response"]:
        schemas.response(body, "beaconCollectionsResponse")
    elif "numTotalResults" in body.get("responseSummary", {}):
        schemas.response(body, "beaconCountResponse")
    else:
        schemas.response(body, "beaconBooleanResponse")
    validate_records(schemas, body)


def validate_records(schemas: Schemas, body: dict) -> int:
    """Each result of a resultset answer against the default-model schema of the entity type the
    answer says it returns (`meta.returnedSchemas`); the number checked. Where the shared copy
    has no models folder, only the framework response is checked (test_records_validate says so)."""
    entity_types = [s["entityType"] for s in body.get("meta", {}).get("returnedSchemas", [])]
    checked = 0
    for entity_type in entity_types:
        if schemas.model(entity_type) is None:
            continue
        for result_set in body.get("response", {}).get("resultSets", []):
            for result in result_set.get("results", []):
                schemas.record(result, entity_type)
                checked += 1
    return checked


def _genotype(rng: random.Random, freqs: list[float], haploid: bool) -> str:
    def allele():
        r, acc = rng.random(), 0.0
        for index, f in enumerate(freqs, start=1):
            acc += f
            if r < acc:
                return str(index)
        return "0"

    if rng.random() < 0.03:
        return "." if haploid else "./."
    if haploid:
        return allele()
    return f"{allele()}/{allele()}"


def individuals_records() -> list[dict]:
    """Synthetic individuals for SAMPLES: sex alternates F/M, 20 from Estonia, 10 from Finland."""
    records = []
    for n, sample in enumerate(SAMPLES):
        female = n % 2 == 0
        record = {
            "id": sample,
            "sex": {"id": "NCIT:C16576", "label": "female"} if female else {"id": "NCIT:C20197", "label": "male"},
            "geographicOrigin": GAZ["EE"] if n < 20 else GAZ["FI"],
        }
        if n < 14:
            record["diseases"] = [
                {
                    "diseaseCode": {"id": "MONDO:0005148", "label": "type 2 diabetes mellitus"},
                    "ageOfOnset": {"iso8601duration": f"P{30 + n}Y"},
                }
            ]
        elif n < 20:
            record["diseases"] = [
                {"diseaseCode": {"id": "ICD10:E11.9", "label": "Type 2 diabetes mellitus without complications"}}
            ]
        if n % 3 == 0:
            record["phenotypicFeatures"] = [{"featureType": {"id": "HP:0001250", "label": "Seizure"}}]
        records.append(record)
    return records


@pytest.fixture(scope="module")
def vcf(tmp_path_factory) -> Path:
    """A bgzipped, indexed VCF: 30 samples, ~120 sites on chr22 (some multi-allelic) and chrX."""
    rng = random.Random(1337)
    folder = tmp_path_factory.mktemp("beacon-vcf")
    lines = [
        "##fileformat=VCFv4.2",
        "##reference=GRCh38",
        "##contig=<ID=chr22,length=50818468>",
        "##contig=<ID=chrX,length=156040895>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(SAMPLES),
    ]
    males = {s for n, s in enumerate(SAMPLES) if n % 2 == 1}
    for chrom, count, base in (("chr22", 100, 16_050_000), ("chrX", 20, 2_800_000)):
        for pos in sorted(rng.sample(range(base, base + 2_000_000), count)):
            ref = rng.choice("ACGT")
            alts = rng.sample([b for b in "ACGT" if b != ref], 2 if rng.random() < 0.15 else 1)
            if rng.random() < 0.1:
                alts = [ref + "T"]  # an insertion
            freqs = [rng.choice([0.02, 0.1, 0.3, 0.5]) / len(alts) for _ in alts]
            gts = [_genotype(rng, freqs, haploid=chrom == "chrX" and s in males) for s in SAMPLES]
            lines.append(f"{chrom}\t{pos}\t.\t{ref}\t{','.join(alts)}\t50\tPASS\t.\tGT\t" + "\t".join(gts))
    plain = folder / "cohort.vcf"
    plain.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    gz = folder / "cohort.vcf.gz"
    subprocess.run(["tabix", "-p", "vcf", str(gz)], check=True)
    return gz


def bcftools_counts(vcf: Path, samples: list[str] | None = None) -> dict:
    """{(chrom, pos, ref, alt): (ac, an)} by bcftools (+fill-tags), for the given samples."""
    source = str(vcf)
    view = ["bcftools", "view", "-Ou", source]
    if samples is not None:
        view += ["-s", ",".join(samples)]
    first = subprocess.run(view, check=True, capture_output=True).stdout
    filled = subprocess.run(
        ["bcftools", "+fill-tags", "-Ou", "-", "--", "-t", "AC,AN"], input=first, check=True, capture_output=True
    ).stdout
    table = subprocess.run(
        ["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\t%AC\t%AN\n", "-"],
        input=filled,
        check=True,
        capture_output=True,
    ).stdout.decode()
    counts = {}
    for line in table.splitlines():
        chrom, pos, ref, alts, acs, an = line.split("\t")
        for alt, ac in zip(alts.split(","), acs.split(","), strict=True):
            counts[(chrom, int(pos), ref, alt)] = (int(ac), int(an))
    return counts


@pytest.fixture
def beacon_dataset(db, steward, dac, vcf, django_capture_on_commit_callbacks):
    """The VCF ingested for real, in a released dataset with its individuals, variants loaded."""
    from gdi_archive.beacon import individuals
    from gdi_archive.catalogue import services as catalogue
    from gdi_archive.catalogue.models import File
    from tests.downloads.conftest import store_ready_file

    with django_capture_on_commit_callbacks(execute=True):
        file = store_ready_file(submitter=steward, path=vcf, fmt=File.Format.VCF)
        dataset = catalogue.create_dataset(actor=steward, title="Beacon cohort", dac=dac.accession, duo=["DUO:0000042"])
        catalogue.add_files_to_dataset(actor=steward, dataset=dataset, files=[file.accession])
    body = json.dumps(individuals_records()).encode()
    with django_capture_on_commit_callbacks(execute=True):
        individuals.replace_individuals(dataset=dataset, body=body, ndjson=False, actor=steward)
    with django_capture_on_commit_callbacks(execute=True):
        dataset = catalogue.release_dataset(actor=steward, dataset=dataset)
    return dataset

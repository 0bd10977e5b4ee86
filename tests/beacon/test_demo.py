"""`manage.py bootstrap`'s demo makes the Beacon answer out of the box: the README's queries.

The demo VCF (30 synthetic samples) and its individuals are loaded by the real bootstrap; the
answers are checked against bcftools on the same committed VCF, with the populations built
from the committed individuals file, and every demo individual validates against the Beacon v2
default model's individual schema.
"""

import io
import json

import pytest
from django.conf import settings
from django.core.management import call_command

from gdi_archive.accounts.models import User
from gdi_archive.beacon.models import VariantLoad
from gdi_archive.bootstrap.management.commands.bootstrap import DEMO_DIR, DEMO_INDIVIDUALS

from .conftest import bcftools_counts, validate_answer
from .helpers import frequencies, g_variant, individuals, passport_client

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

VCF = DEMO_DIR / "demo-variants.vcf.gz"
RECORDS = json.loads((DEMO_DIR / DEMO_INDIVIDUALS).read_text())
# The README's example: chr20, VCF POS 20624 (0-based start 20623), T>C.
EXAMPLE = ("chr20", 20624, "T", "C")
INDIVIDUAL_SCHEMA = "models/json/beacon-v2-default-model/individuals/defaultSchema.json"


def _samples(*, sex=None, country=None) -> list[str]:
    return [
        r["id"]
        for r in RECORDS
        if (sex is None or r["sex"]["id"] == sex) and (country is None or r["geographicOrigin"]["label"] == country)
    ]


@pytest.fixture
def demo(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # in a test, the loads run after commit
        call_command("bootstrap", stdout=io.StringIO())
    [load] = VariantLoad.objects.all()
    assert (load.status, load.variants, len(load.samples)) == ("done", 50, 30)
    return User.objects.get(username="applicant")


def test_the_demo_individuals_are_beacon_individuals(schemas):
    schemas.root.joinpath(INDIVIDUAL_SCHEMA).is_file() or pytest.skip(f"{INDIVIDUAL_SCHEMA} is not in the shared copy")
    assert len(RECORDS) == 30
    for record in RECORDS:
        schemas.validate(record, INDIVIDUAL_SCHEMA)


def test_the_readme_queries_answer_from_the_demo(demo, api, schemas):
    chrom, pos, ref, alt = EXAMPLE
    # anonymous: a boolean
    body = g_variant(api, chrom="20", start=pos - 1, ref=ref, alt=alt, granularity="boolean").json()
    validate_answer(schemas, body)
    assert body["responseSummary"] == {"exists": True}

    # with a passport: allele frequencies per population, as bcftools counts them
    client = passport_client(demo)
    body = g_variant(client, chrom="20", start=pos - 1, ref=ref, alt=alt).json()
    validate_answer(schemas, body)
    shown = frequencies(body)
    female = "NCIT:C16576"
    populations = {
        "ALL": None,
        "EE": _samples(country="Estonia"),
        "F": _samples(sex=female),
        "EE_F": _samples(sex=female, country="Estonia"),
    }
    for name, samples in populations.items():
        ac, an = bcftools_counts(VCF, samples)[EXAMPLE]
        assert ac >= settings.BEACON_MIN_COUNT, name
        assert shown[name][:2] == (ac, an), name

    # individuals with a disease (ICD10 E11 and its descendants, such as E11.9)
    diabetic = [
        r["id"] for r in RECORDS if any(d["diseaseCode"]["id"].startswith("ICD10:E11") for d in r.get("diseases", []))
    ]
    assert len(diabetic) >= settings.BEACON_MIN_COUNT
    body = individuals(client, filters=[{"id": "ICD10:E11"}]).json()
    validate_answer(schemas, body)
    assert body["responseSummary"]["numTotalResults"] == len(diabetic)

    # the same, combined with the variant: diabetic carriers of the allele
    carriers = _carriers(VCF, EXAMPLE)
    expected = len(set(diabetic) & carriers)
    body = individuals(
        client,
        filters=[{"id": "ICD10:E11"}],
        variant={"referenceName": "chr20", "start": pos - 1, "referenceBases": ref, "alternateBases": alt},
    ).json()
    validate_answer(schemas, body)
    assert body["responseSummary"]["numTotalResults"] == (expected if expected >= settings.BEACON_MIN_COUNT else 0)


def _carriers(vcf, key) -> set[str]:
    import subprocess

    chrom, pos, ref, alt = key
    table = subprocess.run(
        [
            "bcftools",
            "query",
            "-r",
            f"{chrom}:{pos}",
            "-i",
            f'REF="{ref}" && ALT="{alt}"',
            "-f",
            "[%SAMPLE\t%GT\n]",
            str(vcf),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {
        sample
        for sample, gt in (line.split("\t") for line in table.splitlines())
        if "1" in gt.replace("/", "|").split("|")
    }

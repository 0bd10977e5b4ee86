"""Counts and frequencies agree with bcftools on the same VCF; chromosome names and ranges."""

import random
import subprocess

from django.conf import settings

from gdi_archive.beacon.models import Variant
from gdi_archive.catalogue.models import Dataset

from .conftest import SAMPLES, bcftools_counts, validate_answer
from .helpers import frequencies, g_variant, passport_client

POPULATIONS = {
    "F": [s for n, s in enumerate(SAMPLES) if n % 2 == 0],
    "M": [s for n, s in enumerate(SAMPLES) if n % 2 == 1],
    "EE": SAMPLES[:20],
    "FI": SAMPLES[20:],
    "EE_F": [s for n, s in enumerate(SAMPLES[:20]) if n % 2 == 0],
}


def test_counts_and_frequencies_agree_with_bcftools(beacon_dataset, applicant, vcf, schemas):
    client = passport_client(applicant)
    overall = bcftools_counts(vcf)
    by_population = {name: bcftools_counts(vcf, samples) for name, samples in POPULATIONS.items()}
    minimum = settings.BEACON_MIN_COUNT
    common = [key for key, (ac, _) in overall.items() if ac >= minimum]
    rare = [key for key, (ac, _) in overall.items() if 0 < ac < minimum]
    assert len(common) > 10 and rare
    rng = random.Random(7)
    for chrom, pos, ref, alt in rng.sample(common, 10):
        response = g_variant(client, chrom=chrom.removeprefix("chr"), start=pos - 1, ref=ref, alt=alt)
        assert response.status_code == 200, response.content
        body = response.json()
        validate_answer(schemas, body)
        assert body["meta"]["returnedGranularity"] == "count"
        shown = frequencies(body)
        ac, an = overall[(chrom, pos, ref, alt)]
        assert shown["ALL"][:2] == (ac, an)
        assert abs(shown["ALL"][2] - ac / an) < 1e-6
        for name in POPULATIONS:
            pop_ac, pop_an = by_population[name][(chrom, pos, ref, alt)]
            if pop_ac >= minimum:
                assert shown[name][:2] == (pop_ac, pop_an), (name, chrom, pos)
            else:
                assert name not in shown, f"{name} has allele count {pop_ac} < {minimum} and must be left out"
    # a rare allele (allele count under the threshold) is reported as not found
    chrom, pos, ref, alt = rare[0]
    body = g_variant(client, chrom=chrom, start=pos - 1, ref=ref, alt=alt).json()
    validate_answer(schemas, body)
    assert body["responseSummary"]["exists"] is False


def test_region_counts_agree_with_bcftools_view(beacon_dataset, applicant, vcf, schemas):
    client = passport_client(applicant)
    overall = bcftools_counts(vcf)
    minimum = settings.BEACON_MIN_COUNT
    for start, end in ((16_100_000, 17_100_000), (16_500_000, 16_600_000)):
        # bcftools regions are 1-based inclusive and match overlapping records; keep those starting inside
        lines = subprocess.run(
            ["bcftools", "view", "-H", "-r", f"chr22:{start + 1}-{end}", str(vcf)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        expected = set()
        for line in lines:
            chrom, pos, _, ref, alts = line.split("\t")[:5]
            if start < int(pos) <= end:
                for alt in alts.split(","):
                    if overall[(chrom, int(pos), ref, alt)][0] >= minimum:
                        expected.add((int(pos) - 1, ref, alt))
        body = g_variant(client, chrom="NC_000022.11", start=start, end=end, pagination={"limit": 100}).json()
        validate_answer(schemas, body)
        [result_set] = body["response"]["resultSets"] if expected else [{"resultsCount": 0, "results": []}]
        assert result_set["resultsCount"] == len(expected)
        got = {
            (
                r["variation"]["location"]["interval"]["start"]["value"],
                r["variation"]["referenceBases"],
                r["variation"]["alternateBases"],
            )
            for r in result_set["results"]
        }
        assert got == expected


def test_chromosome_names_are_the_same_chromosome(beacon_dataset, applicant):
    client = passport_client(applicant)
    variant = Variant.objects.filter(chrom="22", ac__gte=settings.BEACON_MIN_COUNT).order_by("start").first()
    answers = {
        name: g_variant(client, chrom=name, start=variant.start, ref=variant.ref, alt=variant.alt).json()
        for name in ("22", "chr22", "NC_000022.11")
    }
    assert {body["responseSummary"]["numTotalResults"] for body in answers.values()} == {1}
    wrong = g_variant(client, chrom="21", start=variant.start, ref=variant.ref, alt=variant.alt).json()
    assert wrong["responseSummary"]["exists"] is False
    other_assembly = client.post(
        "/beacon/v2/g_variants",
        {
            "query": {
                "requestParameters": {
                    "referenceName": "22",
                    "start": variant.start,
                    "referenceBases": variant.ref,
                    "alternateBases": variant.alt,
                    "assemblyId": "GRCh37",
                },
                "requestedGranularity": "count",
            }
        },
        format="json",
    ).json()
    assert other_assembly["responseSummary"]["exists"] is False


def test_get_queries_work_like_post(beacon_dataset, applicant, schemas):
    client = passport_client(applicant)
    variant = Variant.objects.filter(ac__gte=settings.BEACON_MIN_COUNT).first()
    response = client.get(
        "/beacon/v2/g_variants",
        {
            "referenceName": f"chr{variant.chrom}",
            "start": variant.start,
            "referenceBases": variant.ref,
            "alternateBases": variant.alt,
            "requestedGranularity": "count",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    validate_answer(schemas, body)
    assert body["responseSummary"]["numTotalResults"] == 1


def test_no_genotypes_are_stored(beacon_dataset):
    """What a variant row holds: aggregates and a bitmap of carriers, not per-sample genotypes."""
    fields = {f.name for f in Variant._meta.get_fields()}
    assert fields == {
        "id",
        "load",
        "dataset",
        "generation",
        "assembly",
        "chrom",
        "start",
        "end",
        "ref",
        "alt",
        "variant_type",
        "ac",
        "an",
        "af",
        "populations",
        "carriers",
    }
    variant = Variant.objects.first()
    assert len(bytes(variant.carriers)) == (len(SAMPLES) + 7) // 8


def test_a_bcf_loads_like_its_vcf_and_agrees_with_bcftools(
    db, steward, dac, applicant, vcf, tmp_path, schemas, django_capture_on_commit_callbacks
):
    """A BCF (bcftools view -Ob of the cohort VCF) goes through ingest and the loader; its rows
    and a sample of answers agree with bcftools on the BCF itself."""
    from gdi_archive.beacon.models import VariantLoad
    from gdi_archive.catalogue import services as catalogue
    from gdi_archive.catalogue.models import File
    from tests.downloads.conftest import store_ready_file

    bcf = tmp_path / "cohort.bcf"
    subprocess.run(["bcftools", "view", "-Ob", "-o", str(bcf), str(vcf)], check=True)
    subprocess.run(["bcftools", "index", str(bcf)], check=True)
    with django_capture_on_commit_callbacks(execute=True):
        file = store_ready_file(submitter=steward, path=bcf, fmt=File.Format.BCF)
        dataset = catalogue.create_dataset(actor=steward, title="BCF cohort", dac=dac.accession, duo=["DUO:0000042"])
        catalogue.add_files_to_dataset(actor=steward, dataset=dataset, files=[file.accession])
    with django_capture_on_commit_callbacks(execute=True):
        catalogue.release_dataset(actor=steward, dataset=dataset)
    [load] = VariantLoad.objects.filter(dataset=dataset)
    counts = bcftools_counts(bcf)
    assert (load.status, load.samples) == ("done", SAMPLES)
    assert load.variants == len(counts) == Variant.objects.filter(load=load).count()
    assert load.records_done == int(
        subprocess.run(["bcftools", "view", "-H", str(bcf)], check=True, capture_output=True, text=True).stdout.count(
            "\n"
        )
    )
    stored = {(f"chr{v.chrom}", v.start + 1, v.ref, v.alt): (v.ac, v.an) for v in Variant.objects.filter(load=load)}
    assert stored == counts
    client = passport_client(applicant)
    minimum = settings.BEACON_MIN_COUNT
    common = [key for key, (ac, _) in counts.items() if ac >= minimum]
    for chrom, pos, ref, alt in random.Random(11).sample(common, 5):
        body = g_variant(client, chrom=chrom, start=pos - 1, ref=ref, alt=alt).json()
        validate_answer(schemas, body)
        assert frequencies(body)["ALL"][:2] == counts[(chrom, pos, ref, alt)]


def test_variant_documents_are_json_whatever_their_strings_hold(beacon_dataset, applicant):
    """The documents are written as JSON text (services.variant_json): a title, bases, a type and
    population names that need escaping come back as they were stored, the frequencies are the
    counts' quotient to 6 places, and a filtered query (the ORM path) writes the same document."""
    title = 'Cohort "Ünï" \\ tab\there\nline </script>'
    Dataset.objects.filter(pk=beacon_dataset.pk).update(title=title)
    variant = Variant.objects.filter(ac__gte=settings.BEACON_MIN_COUNT).order_by("-ac").first()
    populations = {'Q"\\x': [7, 21], "EE_F": [1, 3], "ZZ": [settings.BEACON_MIN_COUNT - 1, 40]}
    Variant.objects.filter(pk=variant.pk).update(
        ref='A"\\', alt="<DEL:ME\u00e9\t>", variant_type='D"EL', populations=populations, af=1 / 3
    )
    client = passport_client(applicant)

    def document(**extra):
        response = g_variant(client, chrom=variant.chrom, start=variant.start, **extra)
        assert response.status_code == 200, response.content
        body = response.json()  # not schema-valid: the bases and type are not bases and a type here
        [result_set] = body["response"]["resultSets"]
        [found] = result_set["results"]
        return found

    found = document()
    assert found["variation"]["referenceBases"] == 'A"\\'
    assert found["variation"]["alternateBases"] == "<DEL:ME\u00e9\t>"
    assert found["variation"]["variantType"] == 'D"EL'
    assert found["variantInternalId"].endswith(f':{variant.chrom}:{variant.start}:A"\\:<DEL:ME\u00e9\t>')
    assert found["identifiers"]["genomicHGVSId"].endswith(f':g.{variant.start + 1}A"\\><DEL:ME\u00e9\t>')
    [source] = found["frequencyInPopulations"]
    assert source["source"] == title
    assert source["sourceReference"].endswith(f"/datasets/{beacon_dataset.accession}")
    shown = {
        f["population"]: (f["alleleCount"], f["alleleNumber"], f["alleleFrequency"]) for f in source["frequencies"]
    }
    assert shown == {  # ZZ's allele count is under BEACON_MIN_COUNT; EE_F's quotient is rounded
        "ALL": (variant.ac, variant.an, 0.333333),
        'Q"\\x': (7, 21, 0.333333),
        **({"EE_F": (1, 3, 0.333333)} if settings.BEACON_MIN_COUNT <= 1 else {}),
    }
    female = {"id": "NCIT:C16576", "scope": "individual"}
    assert document(filters=[female]) == found

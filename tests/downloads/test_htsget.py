"""htsget tickets: planned from the file's index, decrypted with the crypt4gh tool, read by htslib."""

import base64
import subprocess

import pysam
import pytest
from django.test import Client

from gdi_archive.audit.models import AuditEvent
from gdi_archive.catalogue.models import File

from . import genomic_data
from .conftest import release, store_ready_file, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("genomic")
    bam = genomic_data.make_bam(folder)
    vcf = genomic_data.make_vcf(folder)
    bcf = genomic_data.make_bcf(folder, vcf)
    cram, reference = genomic_data.make_cram(folder, bam)
    return {"bam": bam, "vcf": vcf, "bcf": bcf, "cram": cram, "reference": reference}


@pytest.fixture
def archive(sources, steward, dac):
    def put(path, fmt, index_suffix, index_fmt):
        data = store_ready_file(submitter=steward, path=path, fmt=fmt)
        store_ready_file(submitter=steward, path=path.with_name(path.name + index_suffix), fmt=index_fmt, index_of=data)
        return data

    files = {
        "bam": put(sources["bam"], File.Format.BAM, ".bai", File.Format.BAI),
        "vcf": put(sources["vcf"], File.Format.VCF, ".tbi", File.Format.TBI),
        "bcf": put(sources["bcf"], File.Format.BCF, ".csi", File.Format.CSI),
        "cram": put(sources["cram"], File.Format.CRAM, ".crai", File.Format.CRAI),
    }
    files["dataset"] = release(dac=dac, steward=steward, files=[files[k] for k in ("bam", "vcf", "bcf", "cram")])
    return files


def fetch(ticket: dict) -> bytes:
    """Follow a ticket as an htsget client does: data: URLs inline, the rest with their headers."""
    parts = []
    anonymous = Client()
    for block in ticket["htsget"]["urls"]:
        url = block["url"]
        if url.startswith("data:"):
            parts.append(base64.b64decode(url.split(",", 1)[1]))
            continue
        assert url.startswith("http://testserver/")
        response = anonymous.get(url.removeprefix("http://testserver"), HTTP_RANGE=block["headers"]["Range"])
        assert response.status_code == 206, response.content
        parts.append(b"".join(response.streaming_content))
    return b"".join(parts)


def ticket_for(client, kind, acc, keys, **params):
    response = client.get(
        f"/htsget/{kind}/{acc}",
        {"encryptionScheme": "C4GH", **params},
        HTTP_HTSGET_CONTEXT_PUBLIC_KEY=keys.header_value,
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/vnd.ga4gh.htsget")
    return response.json()


def decrypt_to(keys, ticket, path):
    path.write_bytes(keys.decrypt(fetch(ticket)))
    return path


@pytest.mark.parametrize(
    "reference,start,end",
    [("chr1", 500_000, 520_000), ("chr2", 0, 3000), ("chr1", 1_999_000, 2_000_000), ("chr2", 990_000, 1_000_000)],
)
def test_bam_region_ticket_holds_every_read_of_the_region(
    archive, sources, applicant, client_keys, tmp_path, reference, start, end
):
    client = token_client(applicant, [archive["dataset"]])
    ticket = ticket_for(
        client, "reads", archive["bam"].accession, client_keys, referenceName=reference, start=start, end=end
    )
    assert ticket["htsget"]["format"] == "BAM"
    out = decrypt_to(client_keys, ticket, tmp_path / "region.bam")
    subprocess.run(["samtools", "quickcheck", str(out)], check=True)
    expected = genomic_data.reads_in(sources["bam"], reference, start, end)
    assert expected, "the test region should hold reads"
    assert genomic_data.reads_in(out, reference, start, end) == expected
    # Only the blocks of the region were sent, not the whole file.
    total = int(subprocess.run(["samtools", "view", "-c", str(out)], capture_output=True, text=True, check=True).stdout)
    assert total < 40050 / 4
    # samtools view -c over the region (after indexing the result) counts the same records.
    pysam.index(str(out))
    region = f"{reference}:{start + 1}-{end}"
    counts = [
        subprocess.run(["samtools", "view", "-c", str(p), region], capture_output=True, text=True, check=True).stdout
        for p in (out, sources["bam"])
    ]
    assert counts[0] == counts[1]
    event = AuditEvent.objects.filter(action="download.ticket").last()
    assert event.details["regions"] == [{"referenceName": reference, "start": start, "end": end}]
    assert event.details["bytes"] > 0


def test_bam_whole_file_header_class_and_unplaced_reads(archive, sources, applicant, client_keys, tmp_path):
    client = token_client(applicant, [archive["dataset"]])
    acc = archive["bam"].accession
    whole = decrypt_to(client_keys, ticket_for(client, "reads", acc, client_keys), tmp_path / "whole.bam")
    assert whole.read_bytes() == sources["bam"].read_bytes()
    header = decrypt_to(
        client_keys, ticket_for(client, "reads", acc, client_keys, **{"class": "header"}), tmp_path / "h.bam"
    )
    subprocess.run(["samtools", "quickcheck", str(header)], check=True)
    with pysam.AlignmentFile(str(header)) as bam:
        assert list(bam.references) == ["chr1", "chr2"]
        assert sum(1 for _ in bam.fetch(until_eof=True)) < 2000
    unplaced = decrypt_to(
        client_keys, ticket_for(client, "reads", acc, client_keys, referenceName="*"), tmp_path / "u.bam"
    )
    with pysam.AlignmentFile(str(unplaced)) as bam:
        names = {r.query_name for r in bam.fetch(until_eof=True) if r.is_unmapped}
    assert len(names) == 50


def test_post_with_several_regions(archive, sources, applicant, client_keys, tmp_path):
    client = token_client(applicant, [archive["dataset"]])
    regions = [
        {"referenceName": "chr2", "start": 100_000, "end": 110_000},
        {"referenceName": "chr1", "start": 10_000, "end": 12_000},
        {"referenceName": "chr1", "start": 11_000, "end": 30_000},
    ]
    response = client.post(
        f"/htsget/reads/{archive['bam'].accession}",
        {"regions": regions, "encryptionScheme": "C4GH"},
        format="json",
        HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
    )
    assert response.status_code == 200, response.content
    out = decrypt_to(client_keys, response.json(), tmp_path / "multi.bam")
    subprocess.run(["samtools", "quickcheck", str(out)], check=True)
    for reference, start, end in (("chr2", 100_000, 110_000), ("chr1", 10_000, 30_000)):
        assert genomic_data.reads_in(out, reference, start, end) == genomic_data.reads_in(
            sources["bam"], reference, start, end
        )


def test_cram_region(archive, sources, applicant, client_keys, tmp_path):
    client = token_client(applicant, [archive["dataset"]])
    ticket = ticket_for(
        client, "reads", archive["cram"].accession, client_keys, referenceName="chr1", start=700_000, end=760_000
    )
    assert ticket["htsget"]["format"] == "CRAM"
    out = decrypt_to(client_keys, ticket, tmp_path / "region.cram")
    subprocess.run(["samtools", "quickcheck", str(out)], check=True)
    fasta = sources["reference"]
    expected = genomic_data.reads_in(sources["cram"], "chr1", 700_000, 760_000, fasta=fasta)
    assert expected
    assert genomic_data.reads_in(out, "chr1", 700_000, 760_000, fasta=fasta) == expected
    assert out.stat().st_size < sources["cram"].stat().st_size / 2


@pytest.mark.parametrize("kind", ["vcf", "bcf"])
@pytest.mark.parametrize("start,end", [(200_000, 260_000), (990_000, 1_000_000)])
def test_variant_region_ticket(archive, sources, applicant, client_keys, tmp_path, kind, start, end):
    """BCF records span BGZF blocks: the edges are re-blocked so the result stays valid."""
    client = token_client(applicant, [archive["dataset"]])
    ticket = ticket_for(
        client, "variants", archive[kind].accession, client_keys, referenceName="chr2", start=start, end=end
    )
    assert ticket["htsget"]["format"] == kind.upper()
    out = decrypt_to(client_keys, ticket, tmp_path / f"region.{kind}")
    expected = genomic_data.variants_in(sources[kind], "chr2", start, end)
    assert expected
    assert genomic_data.variants_in(out, "chr2", start, end) == expected
    everything = subprocess.run(["bcftools", "view", "-H", str(out)], capture_output=True, text=True, check=True).stdout
    assert len(everything.splitlines()) < 16000 / 4


def test_service_info(client):
    for datatype, formats in (("reads", ["BAM", "CRAM"]), ("variants", ["VCF", "BCF"])):
        document = client.get(f"/htsget/{datatype}/service-info").json()
        assert document["type"] == {"group": "org.ga4gh", "artifact": "htsget", "version": "1.3.0"}
        assert document["htsget"]["datatype"] == datatype and document["htsget"]["formats"] == formats


def htsget_error(response, status, error):
    assert response.status_code == status, response.content
    assert response.json()["htsget"]["error"] == error
    assert response.json()["htsget"]["message"]


def test_errors_follow_the_htsget_spec(archive, applicant, other_applicant, client_keys, settings):
    acc = archive["bam"].accession
    key = {"HTTP_X_C4GH_PUBLIC_KEY": client_keys.header_value}
    htsget_error(
        Client().get(f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH"}, **key), 401, "InvalidAuthentication"
    )
    stranger = token_client(other_applicant, [])
    htsget_error(stranger.get(f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH"}, **key), 404, "NotFound")
    client = token_client(applicant, [archive["dataset"]])
    htsget_error(client.get("/htsget/reads/GDIF99999999999", {"encryptionScheme": "C4GH"}, **key), 404, "NotFound")
    htsget_error(client.get(f"/htsget/variants/{acc}", {"encryptionScheme": "C4GH"}, **key), 404, "NotFound")
    htsget_error(
        client.get(f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH", "format": "CRAM"}, **key),
        400,
        "UnsupportedFormat",
    )
    htsget_error(
        client.get(f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH", "format": "VCF"}, **key),
        400,
        "UnsupportedFormat",
    )
    htsget_error(client.get(f"/htsget/reads/{acc}", {"encryptionScheme": "AES"}, **key), 400, "UnsupportedFormat")
    htsget_error(
        client.get(f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH", "referenceName": "chrZ"}, **key),
        404,
        "NotFound",
    )
    htsget_error(
        client.get(f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH", "start": 5}, **key), 400, "InvalidInput"
    )
    htsget_error(
        client.get(
            f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH", "referenceName": "chr1", "start": 9, "end": 5}, **key
        ),
        400,
        "InvalidRange",
    )
    htsget_error(
        client.get(
            f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH", "class": "header", "referenceName": "chr1"}, **key
        ),
        400,
        "InvalidInput",
    )
    htsget_error(
        client.get(f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH", "tags": "NM,MD", "notags": "MD"}, **key),
        400,
        "InvalidInput",
    )
    htsget_error(client.post(f"/htsget/reads/{acc}", {"regions": []}, format="json", **key), 400, "InvalidInput")
    htsget_error(
        client.post(
            f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH", "regions": [{"start": 1}]}, format="json", **key
        ),
        400,
        "InvalidInput",
    )
    htsget_error(
        client.post(
            f"/htsget/reads/{acc}",
            {"encryptionScheme": "C4GH", "regions": [{"referenceName": "chr1", "start": 5, "end": 5}]},
            format="json",
            **key,
        ),
        400,
        "InvalidRange",
    )
    htsget_error(client.post(f"/htsget/reads/{acc}?referenceName=chr1", {}, format="json", **key), 400, "InvalidInput")
    # Plaintext is refused unless the operator enables it.
    settings.PLAINTEXT_DOWNLOADS = False
    response = client.get(f"/htsget/reads/{acc}", {"referenceName": "chr1"})
    htsget_error(response, 400, "InvalidInput")
    assert "encrypt" in response.json()["htsget"]["message"]
    # Encrypted without any key: 400.
    htsget_error(client.get(f"/htsget/reads/{acc}", {"encryptionScheme": "C4GH"}), 400, "InvalidInput")


def test_signed_block_urls_are_bound_and_expire(archive, applicant, client_keys, settings):
    client = token_client(applicant, [archive["dataset"]])
    ticket = ticket_for(client, "reads", archive["bam"].accession, client_keys, referenceName="chr1", start=0, end=1000)
    block = ticket["htsget"]["urls"][1]
    path = block["url"].removeprefix("http://testserver")
    lo, hi = (int(v) for v in block["headers"]["Range"].removeprefix("bytes=").split("-"))
    anonymous = Client()
    assert anonymous.get(path, HTTP_RANGE=f"bytes={lo}-{hi + 100}").status_code == 416  # outside the signed range
    from urllib.parse import parse_qs, urlencode, urlsplit

    query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
    wider = urlencode({**query, "range": f"{lo}-{hi + 10**6}"})
    assert anonymous.get(f"{urlsplit(path).path}?{wider}", HTTP_RANGE=f"bytes={lo}-{hi + 100}").status_code == 404
    other_file = urlencode({**query, "file": archive["vcf"].accession})
    assert (
        anonymous.get(
            f"/api/blocks/{archive['vcf'].accession}?{other_file}", HTTP_RANGE=block["headers"]["Range"]
        ).status_code
        == 404
    )
    assert anonymous.get(path, HTTP_RANGE=block["headers"]["Range"]).status_code == 206
    settings.SECRET_KEY = settings.SECRET_KEY + "-rotated"
    assert anonymous.get(path, HTTP_RANGE=block["headers"]["Range"]).status_code == 404


def test_plaintext_ticket_when_enabled(archive, sources, applicant, tmp_path, settings):
    settings.PLAINTEXT_DOWNLOADS = True
    client = token_client(applicant, [archive["dataset"]])
    response = client.get(
        f"/htsget/reads/{archive['bam'].accession}", {"referenceName": "chr1", "start": 300_000, "end": 310_000}
    )
    assert response.status_code == 200, response.content
    out = tmp_path / "plain.bam"
    out.write_bytes(fetch(response.json()))
    subprocess.run(["samtools", "quickcheck", str(out)], check=True)
    assert genomic_data.reads_in(out, "chr1", 300_000, 310_000) == genomic_data.reads_in(
        sources["bam"], "chr1", 300_000, 310_000
    )


def test_cors_preflight_and_origin_echo(archive, applicant, client_keys):
    acc = archive["bam"].accession
    preflight = Client().options(
        f"/htsget/reads/{acc}",
        HTTP_ORIGIN="https://igv.example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == "https://igv.example.org"
    assert preflight["Access-Control-Allow-Headers"] == "authorization"
    client = token_client(applicant, [archive["dataset"]])
    ticket = client.get(
        f"/htsget/reads/{acc}",
        {"encryptionScheme": "C4GH", "class": "header"},
        HTTP_ORIGIN="https://igv.example.org",
        HTTP_X_C4GH_PUBLIC_KEY=client_keys.header_value,
    )
    assert ticket["Access-Control-Allow-Origin"] == "https://igv.example.org"


def test_signed_block_urls_expire(archive, applicant, client_keys, settings):
    import time

    settings.SIGNED_URL_TTL = 1
    client = token_client(applicant, [archive["dataset"]])
    ticket = ticket_for(client, "reads", archive["bam"].accession, client_keys, referenceName="chr1", start=0, end=1000)
    block = ticket["htsget"]["urls"][1]
    path = block["url"].removeprefix("http://testserver")
    time.sleep(2.1)
    expired = Client().get(path, HTTP_RANGE=block["headers"]["Range"])
    assert expired.status_code == 404 and "expired" in expired.json()["detail"]


def test_region_of_a_file_smaller_than_one_segment(steward, dac, applicant, client_keys, tmp_path):
    """The whole file is one short Crypt4GH segment: pieces before the last are re-sent as full
    new segments, since only the last segment of a stream may be short."""
    folder = tmp_path / "small"
    folder.mkdir()
    vcf = genomic_data.make_vcf(folder, records_per_ref=1500)
    assert vcf.stat().st_size < 65536
    data = store_ready_file(submitter=steward, path=vcf)
    store_ready_file(submitter=steward, path=vcf.with_name(vcf.name + ".tbi"), index_of=data)
    client = token_client(applicant, [release(dac=dac, steward=steward, files=[data])])
    ticket = ticket_for(
        client, "variants", data.accession, client_keys, referenceName="chr1", start=400_000, end=900_000
    )
    out = decrypt_to(client_keys, ticket, tmp_path / "small-region.vcf.gz")
    expected = genomic_data.variants_in(vcf, "chr1", 400_000, 900_000)
    assert expected and genomic_data.variants_in(out, "chr1", 400_000, 900_000) == expected

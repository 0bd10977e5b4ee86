"""Plaintext htsget for standard tools, when the operator enables it: samtools over HTTPS and
the `htsget` Python client, against gunicorn serving the archive with a self-signed certificate."""

import json
import os
import subprocess
import sys
from pathlib import Path

import htsget
import pytest
import requests
from django.db import connection

from tests.conftest import PASSWORD, REPO, free_port, wait_for_port

from . import genomic_data
from .conftest import entitle, release, store_ready_file

pytestmark = [pytest.mark.slow]


@pytest.fixture
def https_server(transactional_db, tmp_path):
    """gunicorn with TLS on a free port, on the test database, with plaintext htsget on."""
    port = free_port()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    base_url = f"https://127.0.0.1:{port}"
    env = os.environ.copy()
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        BASE_URL=base_url,
        PLAINTEXT_DOWNLOADS="true",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
    )
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "gdi_archive.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "--certfile",
            str(cert),
            "--keyfile",
            str(key),
            "-w",
            "2",
            "--timeout",
            "60",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        yield {"url": base_url, "cert": cert, "log": tmp_path / "gunicorn.log"}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)


@pytest.fixture
def bam_in_archive(tmp_path, steward, dac, applicant):
    folder = tmp_path / "data"
    folder.mkdir()
    bam = genomic_data.make_bam(folder, reads_per_ref=4000)
    data = store_ready_file(submitter=steward, path=bam)
    store_ready_file(submitter=steward, path=Path(f"{bam}.bai"), index_of=data)
    dataset = release(dac=dac, steward=steward, files=[data])
    entitle(applicant, dataset)
    return {"path": bam, "file": data}


def mint_token(server, user) -> str:
    response = requests.post(
        f"{server['url']}/api/tokens", json={}, auth=(user.username, PASSWORD), verify=server["cert"], timeout=30
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


def test_samtools_and_htsget_client_read_a_region(https_server, bam_in_archive, applicant, tmp_path):
    token = mint_token(https_server, applicant)
    acc = bam_in_archive["file"].accession
    auth = tmp_path / "token.json"
    # htslib reads an OAuth-style token file and sends it as a bearer token, over HTTPS only.
    auth.write_text(json.dumps({"access_token": token, "token_type": "Bearer"}))
    url = f"{https_server['url']}/htsget/reads/{acc}?referenceName=chr1&start=500000&end=560000"
    out = tmp_path / "samtools.bam"
    env = {**os.environ, "HTS_AUTH_LOCATION": str(auth), "CURL_CA_BUNDLE": str(https_server["cert"])}
    result = subprocess.run(
        ["samtools", "view", "-b", "-o", str(out), url], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr + https_server["log"].read_text()[-3000:]
    expected = genomic_data.reads_in(bam_in_archive["path"], "chr1", 500_000, 560_000)
    assert expected
    assert genomic_data.reads_in(out, "chr1", 500_000, 560_000) == expected

    # Without the token, samtools gets nothing.
    refused = subprocess.run(
        ["samtools", "view", "-c", url],
        env={**env, "HTS_AUTH_LOCATION": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0

    # The htsget Python client, with the region as parameters.
    client_out = tmp_path / "client.bam"
    os.environ["REQUESTS_CA_BUNDLE"] = str(https_server["cert"])
    try:
        with open(client_out, "wb") as handle:
            htsget.get(
                f"{https_server['url']}/htsget/reads/{acc}",
                handle,
                reference_name="chr2",
                start=100_000,
                end=150_000,
                bearer_token=token,
                max_retries=0,
            )
    finally:
        del os.environ["REQUESTS_CA_BUNDLE"]
    expected = genomic_data.reads_in(bam_in_archive["path"], "chr2", 100_000, 150_000)
    assert expected
    assert genomic_data.reads_in(client_out, "chr2", 100_000, 150_000) == expected

"""The researcher's and submitter's command, end to end over HTTP against a live server:
encrypt and upload, ingest, dataset release and approval through the API, then list, download
(parallel, resumed after a kill, decrypted, checksum-verified) and htsget."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .conftest import Persona, publish_and_grant, wait_until_ready

DEMO = Path(__file__).resolve().parents[2] / "gdi_archive" / "catalogue" / "demo"
CRYPT4GH = Path(sys.executable).parent / "crypt4gh"


@pytest.fixture
def people(server, tmp_path, steward, dac, dac_member, applicant):
    return {
        "steward": Persona("sam", server, tmp_path / "sam").login(),
        "member": Persona("carol", server, tmp_path / "carol").login(),
        "applicant": Persona("alice", server, tmp_path / "alice").login(),
        "dac": dac.accession,
    }


def submit(steward: Persona, source: Path, name: str | None = None) -> dict:
    encrypted = steward.home / ((name or source.name) + ".c4gh")
    steward.run("encrypt", str(source), "-o", str(encrypted), "--archive")
    entry = steward.json("upload", str(encrypted))
    assert entry["status"] in ("uploaded", "verifying", "archiving", "ready")
    return wait_until_ready(steward, encrypted.name)


def with_keys(person: Persona) -> tuple[str, str]:
    sk, pk = str(person.home / "me.sec"), str(person.home / "me.pub")
    person.run("keygen", "--sk", sk, "--pk", pk)
    return sk, pk


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def content_bytes_served(url: str) -> float:
    text = requests.get(url + "/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gdi_download_bytes_total" and sample.labels.get("kind") == "content":
                return sample.value
    return 0.0


def test_login_keeps_the_token_private_and_refuses_a_bad_one(server, tmp_path, transactional_db, applicant):
    alice = Persona("alice", server, tmp_path / "alice").login()
    token_file = alice.home / "config" / "gdi-archive" / "token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert alice.json("datasets") == []
    bad = Persona("alice", server, tmp_path / "mallory")
    result = bad.run("login", "--url", server, "--token", "not-a-token", ok=False)
    assert result.returncode == 1 and "Unauthorized" in result.stderr and "Traceback" not in result.stderr
    assert not (bad.home / "config" / "gdi-archive" / "token").exists()
    wrong_password = Persona("alice", server, tmp_path / "guess").run(
        "login", "--url", server, "--username", "alice", ok=False, GDI_ARCHIVE_PASSWORD="wrong-password"
    )
    assert wrong_password.returncode == 1 and "Traceback" not in wrong_password.stderr
    token_file.chmod(0o644)
    loose = alice.run("datasets", ok=False)
    assert loose.returncode == 1 and "chmod 600" in loose.stderr


def test_submit_then_download_decrypted_encrypted_and_verified(people, tmp_path):
    steward, member, alice = people["steward"], people["member"], people["applicant"]
    source = tmp_path / "cohort.bin"
    source.write_bytes(os.urandom(3 * 65536 + 12345))
    entry = submit(steward, source)
    assert entry["sha256"] == sha256(source)
    dataset = publish_and_grant(
        steward=steward, member=member, applicant=alice, dac_accession=people["dac"], files=[entry["accession"]]
    )

    listed = alice.json("datasets")
    assert [d["accession"] for d in listed] == [dataset]
    files = alice.json("files", dataset)
    assert files[0]["accession"] == entry["accession"] and files[0]["sha256"] == sha256(source)
    assert entry["accession"] in alice.run("files", dataset).stdout

    sk, pk = with_keys(alice)
    plain = alice.home / "cohort.bin"
    result = json.loads(
        alice.run(
            "download", entry["accession"], "-o", str(plain), "--decrypt", "--sk", sk, "--parallel", "3", "--json"
        ).stdout
    )
    assert plain.read_bytes() == source.read_bytes()
    assert result["verified"] is True and result["sha256"] == sha256(source)
    assert not list(alice.home.glob("*.part*")), "no partial files are left behind"

    # Without --decrypt: a Crypt4GH file for my key that the standard crypt4gh tool opens.
    encrypted = alice.home / "cohort.bin.c4gh"
    alice.run("download", entry["accession"], "-o", str(encrypted), "--pk", pk, "--parallel", "2")
    with open(encrypted, "rb") as stdin:
        out = subprocess.run(
            [str(CRYPT4GH), "decrypt", "--sk", sk],
            stdin=stdin,
            capture_output=True,
            env={**os.environ, "C4GH_PASSPHRASE": "client-key-passphrase"},
            check=True,
        )
    assert out.stdout == source.read_bytes()


def test_download_resumes_after_the_client_is_killed(people, tmp_path):
    steward, member, alice = people["steward"], people["member"], people["applicant"]
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(6 * 1024 * 1024 + 777))
    entry = submit(steward, source)
    publish_and_grant(
        steward=steward, member=member, applicant=alice, dac_accession=people["dac"], files=[entry["accession"]]
    )
    sk, _ = with_keys(alice)
    out = alice.home / "big.bin"
    state = alice.home / "big.bin.part.json"

    first = alice.popen(
        "download", entry["accession"], "-o", str(out), "--decrypt", "--sk", sk, "--parallel", "2", "--limit-rate", "1M"
    )
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and first.poll() is None:
        if state.exists():
            try:
                done = sum(part["done"] for part in json.loads(state.read_text())["parts"])
            except (ValueError, KeyError):
                done = 0
            plaintext = alice.home / "big.bin.tmp"
            if done >= 1024 * 1024 and plaintext.exists() and plaintext.stat().st_size >= 65536:
                break
        time.sleep(0.05)
    assert first.poll() is None, "the download ended before it could be interrupted"
    # Decryption follows the download: plaintext was written before the body was complete.
    assert 0 < (alice.home / "big.bin.tmp").stat().st_size < len(source.read_bytes())
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert not out.exists() and state.exists()

    served_before = content_bytes_served(alice.url)
    result = json.loads(
        alice.run(
            "download", entry["accession"], "-o", str(out), "--decrypt", "--sk", sk, "--parallel", "2", "--json"
        ).stdout
    )
    served = content_bytes_served(alice.url) - served_before
    assert result["resumed_from"] >= 1024 * 1024
    assert out.read_bytes() == source.read_bytes() and result["verified"] is True
    # Only what was missing came over the wire the second time.
    body_size = result["bytes"] - len(
        requests.get(
            f"{alice.url}/api/files/{entry['accession']}/header",
            headers={"Authorization": f"Bearer {alice.token}", "X-C4GH-Public-Key": _public_key_header(sk)},
        ).content
    )
    assert served <= body_size - result["resumed_from"] + 2  # +2: the Range 0-0 probe
    assert not state.exists()


def _public_key_header(sk: str) -> str:
    import base64

    from crypt4gh.keys import get_private_key
    from crypt4gh.sodium import derive_pk

    secret = get_private_key(sk, lambda: "client-key-passphrase")
    return base64.b64encode(derive_pk(secret)).decode()


def test_htsget_region_to_a_local_bam(people, tmp_path):
    samtools = shutil.which("samtools")
    assert samtools, "samtools is needed (.ci/system-deps)"
    steward, member, alice = people["steward"], people["member"], people["applicant"]
    bam = submit(steward, DEMO / "demo-sample.bam")
    submit(steward, DEMO / "demo-sample.bam.bai")
    publish_and_grant(
        steward=steward, member=member, applicant=alice, dac_accession=people["dac"], files=[bam["accession"]]
    )
    header = subprocess.run(
        [samtools, "view", "-H", str(DEMO / "demo-sample.bam")], capture_output=True, text=True, check=True
    ).stdout
    contig = next(line.split("SN:")[1].split("\t")[0] for line in header.splitlines() if line.startswith("@SQ"))
    region = f"{contig}:1000-5000"
    sk, _ = with_keys(alice)
    out = alice.home / "region.bam"
    alice.run("htsget", bam["accession"], "--region", region, "-o", str(out), "--sk", sk)
    expected = subprocess.run(
        [samtools, "view", "-c", str(DEMO / "demo-sample.bam"), region], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run([samtools, "index", str(out)], check=True)
    got = subprocess.run(
        [samtools, "view", "-c", str(out), region], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert int(expected) > 0 and got == expected


def test_refusals_are_plain_sentences(people, tmp_path):
    steward, alice = people["steward"], people["applicant"]
    plain = tmp_path / "notes.txt"
    plain.write_text("not encrypted")
    refused = steward.run("upload", str(plain), ok=False)
    assert refused.returncode == 1 and "not a Crypt4GH file" in refused.stderr
    missing = alice.run("download", "GDIF00000000999", "-o", str(tmp_path / "x"), ok=False)
    assert missing.returncode == 1 and "NotFound" in missing.stderr and "Traceback" not in missing.stderr
    no_key = alice.run("download", "GDIF00000000999", "--decrypt", ok=False)
    assert "--sk" in no_key.stderr
    forbidden = alice.run("upload", str(steward.home / "x.c4gh"), ok=False)
    assert forbidden.returncode == 1


def test_encrypt_to_a_recipient_and_keygen_refuses_to_overwrite(tmp_path, server, transactional_db, applicant):
    alice = Persona("alice", server, tmp_path / "alice")
    sk, pk = with_keys(alice)
    again = alice.run("keygen", "--sk", sk, "--pk", pk, ok=False)
    assert "exists already" in again.stderr
    source = tmp_path / "note.txt"
    source.write_bytes(os.urandom(70000))
    alice.run("encrypt", str(source), "-o", str(tmp_path / "note.c4gh"), "--recipient-pk", pk)
    with open(tmp_path / "note.c4gh", "rb") as stdin:
        out = subprocess.run(
            [str(CRYPT4GH), "decrypt", "--sk", sk],
            stdin=stdin,
            capture_output=True,
            env={**os.environ, "C4GH_PASSPHRASE": "client-key-passphrase"},
            check=True,
        )
    assert out.stdout == source.read_bytes()


def _inbox_puts(url: str) -> dict[str, float]:
    """PUT requests the server answered on the inbox upload route, by status (its own counter)."""
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(requests.get(url + "/metrics", timeout=30).text):
        for sample in family.samples:
            if (
                sample.name == "gdi_http_requests_total"
                and sample.labels.get("method") == "PUT"
                and sample.labels.get("route") == "api/inbox/<str:name>"
            ):
                counts[sample.labels["status"]] = counts.get(sample.labels["status"], 0) + sample.value
    return counts


def test_upload_resumes_after_the_client_is_killed(people, tmp_path):
    steward = people["steward"]
    source = tmp_path / "cohort.bin"
    source.write_bytes(os.urandom(6 * 1024 * 1024 + 999))
    encrypted = steward.home / "cohort.bin.c4gh"
    steward.run("encrypt", str(source), "-o", str(encrypted), "--archive")
    size = encrypted.stat().st_size
    part = 512 * 1024
    where = f"{steward.url}/api/inbox/{encrypted.name}"
    auth = {"Authorization": f"Bearer {steward.token}"}

    first = steward.popen("upload", str(encrypted), "--part-size", "512K", "--limit-rate", "1M")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None:
        probe = requests.get(where, headers=auth, timeout=30)
        if probe.status_code == 200 and int(probe.headers["Upload-Offset"]) >= 2 * part:
            break
        time.sleep(0.05)
    assert first.poll() is None, "the upload ended before it could be interrupted"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    time.sleep(0.5)  # the server notices the broken part and keeps nothing of it
    probe = requests.get(where, headers=auth, timeout=30)
    assert probe.status_code == 200 and probe.json()["status"] == "partial"
    have = int(probe.headers["Upload-Offset"])
    assert 2 * part <= have < size and have % part == 0 and int(probe.headers["Upload-Length"]) == size
    assert not any(e["name"] == encrypted.name for e in steward.json("inbox")), "nothing partial is ingested"

    before = _inbox_puts(steward.url)
    result = steward.json("upload", str(encrypted), "--part-size", "512K")
    after = _inbox_puts(steward.url)
    assert result["resumed_from"] == have and result["status"] in ("uploaded", "verifying", "archiving", "ready")
    # Only the missing parts came over the wire the second time, each accepted first time.
    sent = {status: after.get(status, 0) - before.get(status, 0) for status in after}
    missing_parts = -(-(size - have) // part)
    assert sent.get("202", 0) == missing_parts - 1 and sent.get("201", 0) == 1, sent
    assert sum(sent.values()) == missing_parts, sent
    entry = wait_until_ready(steward, encrypted.name)
    assert entry["sha256"] == sha256(source) and entry["bytes_total"] == size
    assert requests.get(where, headers=auth, timeout=30).status_code == 404  # no parts left behind

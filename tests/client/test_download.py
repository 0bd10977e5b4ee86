"""`gdi-archive download`: Ctrl-C stops at once and the same command resumes; a whole dataset in
one command; sizes people read and readable headings; --help with examples. Against a live server."""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import CLIENT_SOURCE, Persona, publish_and_grant
from .test_cli import submit, with_keys

MB = 1024 * 1024


@pytest.fixture
def people(server, tmp_path, steward, dac, dac_member, applicant):
    return {
        "steward": Persona("sam", server, tmp_path / "sam").login(),
        "member": Persona("carol", server, tmp_path / "carol").login(),
        "applicant": Persona("alice", server, tmp_path / "alice").login(),
        "dac": dac.accession,
    }


def _fetched(state: Path) -> int:
    try:
        return sum(part["done"] for part in json.loads(state.read_text())["parts"])
    except (OSError, ValueError, KeyError):
        return 0


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_ctrl_c_stops_a_download_within_two_seconds_and_the_same_command_resumes(people, tmp_path):
    steward, member, alice = people["steward"], people["member"], people["applicant"]
    source = tmp_path / "large.bin"
    source.write_bytes(os.urandom(8 * MB + 4321))
    entry = submit(steward, source)
    publish_and_grant(
        steward=steward, member=member, applicant=alice, dac_accession=people["dac"], files=[entry["accession"]]
    )
    sk, _ = with_keys(alice)
    out = alice.home / "large.bin"
    part, state = alice.home / "large.bin.part", alice.home / "large.bin.part.json"
    command = ("download", entry["accession"], "-o", str(out), "--decrypt", "--sk", sk, "--parallel", "2")

    # 1 MB/s: at Ctrl-C, several seconds of the download are still to come.
    first = alice.popen(*command, "--limit-rate", "1M")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None and _fetched(state) < 2 * MB:
        time.sleep(0.05)
    assert first.poll() is None, "the download ended before it could be interrupted"
    first.send_signal(signal.SIGINT)
    sent = time.monotonic()
    try:
        first.wait(timeout=10)
    finally:
        first.kill()
    took = time.monotonic() - sent
    print(f"stopped {took:.2f} s after SIGINT")
    stderr = first.stderr.read()
    assert took < 2.0, f"the client took {took:.1f} s to stop after Ctrl-C"
    assert first.returncode == 130, stderr
    assert "interrupted" in stderr and "run the same command again to resume" in stderr and "Traceback" not in stderr
    assert re.search(r"\d+\.\d MB of 8\.0 MB kept in large\.bin\.part", stderr), stderr
    kept = _fetched(state)
    assert part.exists() and 2 * MB <= kept < 8 * MB
    assert not out.exists(), "nothing half-done at the output's name"
    assert not (alice.home / "large.bin.tmp").exists(), "no partial plaintext left behind"

    second = json.loads(alice.run(*command, "--json").stdout)
    assert second["resumed_from"] >= kept
    assert second["verified"] is True and second["sha256"] == _digest(source) == _digest(out)
    assert not part.exists() and not state.exists()


def test_a_whole_dataset_in_one_command_resumable_file_by_file(people, tmp_path):
    steward, member, alice = people["steward"], people["member"], people["applicant"]
    sources = []
    for name, size in (("first.bin", 300_000), ("second.bin", 3 * MB + 17)):
        sources.append(tmp_path / name)
        sources[-1].write_bytes(os.urandom(size))
    entries = [submit(steward, source) for source in sources]
    dataset = publish_and_grant(
        steward=steward,
        member=member,
        applicant=alice,
        dac_accession=people["dac"],
        files=[entry["accession"] for entry in entries],
    )
    sk, _ = with_keys(alice)
    folder = alice.home / "cohort"

    done = alice.run("download", dataset, "-o", str(folder), "--decrypt", "--sk", sk, GDI_ARCHIVE_PROGRESS="1")
    for source in sources:
        assert _digest(folder / source.name) == _digest(source)
    assert "2 files, 3.3 MB" in done.stderr  # what is coming, in sizes people read
    assert "100.0%" in done.stderr  # and a progress bar per file
    assert "[2/2]" in done.stdout and "sha256 verified" in done.stdout
    assert not list(folder.glob("*.part*"))

    # Ctrl-C half-way through the second file: the first is kept, the second resumes.
    (folder / "second.bin").unlink()
    command = ("download", dataset, "-o", str(folder), "--decrypt", "--sk", sk)
    interrupted = alice.popen(*command, "--limit-rate", "1M")
    state = folder / "second.bin.part.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and interrupted.poll() is None and _fetched(state) < MB:
        time.sleep(0.05)
    assert interrupted.poll() is None, "the download ended before it could be interrupted"
    interrupted.send_signal(signal.SIGINT)
    try:
        assert interrupted.wait(timeout=10) == 130
    finally:
        interrupted.kill()
    stdout, stderr = interrupted.communicate()
    assert "first.bin (already there)" in stdout and "kept in second.bin.part" in stderr
    again = json.loads(alice.run(*command, "--json").stdout)
    assert again["dataset"] == dataset
    by_name = {Path(item["output"]).name: item for item in again["files"]}
    assert by_name["first.bin"]["skipped"] is True
    assert by_name["second.bin"]["verified"] is True and by_name["second.bin"]["resumed_from"] >= MB
    assert _digest(folder / "second.bin") == _digest(sources[1])
    assert not list(folder.glob("*.part*"))

    # Without --decrypt: a Crypt4GH file for my key per file.
    encrypted = alice.home / "encrypted"
    alice.run("download", dataset, "-o", str(encrypted), "--sk", sk)
    assert sorted(p.name for p in encrypted.iterdir()) == ["first.bin.c4gh", "second.bin.c4gh"]


def test_listings_have_readable_headings_and_sizes_in_kb_mb_gb(people, tmp_path):
    steward, member, alice = people["steward"], people["member"], people["applicant"]
    source = tmp_path / "reads.bin"
    source.write_bytes(os.urandom(1536 * 1024))
    entry = submit(steward, source)
    dataset = publish_and_grant(
        steward=steward, member=member, applicant=alice, dac_accession=people["dac"], files=[entry["accession"]]
    )
    datasets = alice.run("datasets").stdout.splitlines()
    assert datasets[0].split() == ["Dataset", "Title", "Files", "Size"]
    assert re.search(rf"^{dataset}\s+Client test cohort\s+1\s+1\.5 MB$", datasets[1]), datasets
    files = alice.run("files", dataset).stdout.splitlines()
    assert files[0].split() == ["File", "Name", "Size", "Format", "Index", "SHA-256", "(plaintext)"]
    assert entry["accession"] in files[1] and "1.5 MB" in files[1] and str(1536 * 1024) not in files[1]
    inbox = steward.run("inbox").stdout.splitlines()
    assert inbox[0].split() == ["Name", "Status", "Checked", "Size", "Accession", "Error"]
    assert "1.5 MB" in inbox[1]


def test_sizes_read_like_the_web_pages():
    # The client of this tree (a subprocess: the installed one may be another checkout's).
    code = (
        "from gdi_archive_client.progress import human_size\n"
        "print([human_size(n) for n in (0, 1, 1023, 1024, 1536 * 1024, 5 * 1024**3, 3 * 1024**4)])"
    )
    env = {**os.environ, "PYTHONPATH": str(CLIENT_SOURCE)}
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert shown.strip() == str(["0 bytes", "1 byte", "1023 bytes", "1.0 KB", "1.5 MB", "5.0 GB", "3.0 TB"])


COMMANDS = ("login", "datasets", "inbox", "files", "download", "htsget", "keygen", "encrypt", "upload")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command, tmp_path):
    helped = Persona("nobody", "http://127.0.0.1:9", tmp_path).run(command, "--help")
    epilog = helped.stdout.split("examples:", 1)
    assert len(epilog) == 2, helped.stdout
    assert f"gdi-archive {command}" in epilog[1]


def test_the_overview_help_lists_examples(tmp_path):
    helped = Persona("nobody", "http://127.0.0.1:9", tmp_path).run("--help").stdout
    assert "examples:" in helped and "gdi-archive download" in helped and "COMMAND --help" in helped

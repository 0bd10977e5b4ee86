"""Faults against the production-like stack (gunicorn, Celery worker and beat, PostgreSQL, Redis,
S3), all as processes on 127.0.0.1 that this module owns: workers killed mid-job, the object
store cut off, PostgreSQL and Redis restarted, a full disk, slow and oversized requests.

One stack serves the whole module (it takes ~20 s to start); each test leaves it healthy.
Faults already covered elsewhere are not repeated: a storage outage during ingest that is
retried and then succeeds or fails with a reason is tests/ingest/test_s3.py; a dropped S3
connection resumed mid-read is tests/storage/test_s3.py.
"""

import hashlib
import http.client
import json
import os
import select
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from tests.conftest import free_port, wait_for_port
from tests.downloads.conftest import ClientKeyPair

from .stack import (
    CuttableProxy,
    OwnPostgres,
    OwnRedis,
    ReliabilityStack,
    bucket_keys,
    encrypt_for_archive,
    inbox_entry,
    publish,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.s3, pytest.mark.worker, pytest.mark.timeout(900)]

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def stack(s3_server):
    import glob
    import shutil

    if not glob.glob("/usr/lib/postgresql/*/bin/initdb") or not shutil.which("redis-server"):
        pytest.skip("needs PostgreSQL's server binaries (initdb, pg_ctl) and redis-server to run our own instances")
    owned = Path(tempfile.mkdtemp(prefix="gdi-reliability-"))
    os.chmod(owned, 0o755)  # the postgres user must reach its cluster folder
    postgres, redis, proxy, stack = OwnPostgres(owned / "postgres"), OwnRedis(owned / "redis"), None, None
    try:
        postgres.start()
        redis.start()
        target = urlparse(s3_server)
        proxy = CuttableProxy((target.hostname, target.port))
        (owned / "stack").mkdir()
        stack = ReliabilityStack(
            owned / "stack",
            proxy.url,
            postgres=postgres,
            redis=redis,
            extra_env={
                "INGEST_RETRY_DELAY": "1",
                "DATABASE_CONN_MAX_AGE": "60",
                "GUNICORN_THREADS": "8",
                "GUNICORN_BODY_TIMEOUT": str(BODY_TIMEOUT),
                "GUNICORN_BODY_MIN_RATE": str(MiB),
            },
        )
        stack.proxy = proxy
        stack.up()
        stack.state = {}
        yield stack
    finally:
        if stack is not None:
            stack.down()
        if proxy is not None:
            proxy.close()
        redis.close()
        postgres.close()
        if not os.environ.get("KEEP_STACK"):  # KEEP_STACK=1 keeps the logs for a post-mortem
            subprocess.run(["rm", "-rf", str(owned)], check=False)


def archived_big_file(stack, folder: Path) -> dict:
    """The 64 MiB file the first test archives (uploaded here when that test was not run)."""
    if "big" not in stack.state:
        root = stack.session("root")
        plain = os.urandom(64 * MiB + 12345)
        encrypted = encrypt_for_archive(stack, plain, folder / "big2.bin.c4gh")
        with open(encrypted, "rb") as body:
            assert root.put(stack.url + "/api/inbox/big2.bin.c4gh", data=body, timeout=120).status_code == 201
        done = wait_for(
            lambda: (e := inbox_entry(root, stack.url, "big2.bin.c4gh")) and e["status"] in ("ready", "error") and e,
            180,
            "the big file to be archived",
        )
        assert done["status"] == "ready", done
        stack.state["big"] = {"accession": done["accession"], "plain_sha256": done["sha256"], "size": len(plain)}
        stack.state["dataset"] = publish(stack, [done["accession"]])
    return stack.state["big"]


# --- workers killed mid-job --------------------------------------------------------------------------


def test_worker_killed_mid_ingest_finishes_after_restart_and_verifies(stack, tmp_path):
    root = stack.session("root")
    plain = os.urandom(64 * MiB + 12345)
    encrypted = encrypt_for_archive(stack, plain, tmp_path / "big.bin.c4gh")
    with open(encrypted, "rb") as body:
        upload = root.put(stack.url + "/api/inbox/big.bin.c4gh", data=body, timeout=120)
    assert upload.status_code == 201, upload.text
    wait_for(
        lambda: (inbox_entry(root, stack.url, "big.bin.c4gh") or {}).get("bytes_done", 0) > 0,
        60,
        "ingest to start",
        0.01,
    )
    stack.kill("worker")
    killed = inbox_entry(root, stack.url, "big.bin.c4gh")
    assert killed["status"] in ("verifying", "archiving"), f"finished before the kill: {killed}"
    assert killed["accession"] is None
    assert bucket_keys(stack, "archive") == []  # nothing half-written is visible

    stack.start_worker()  # the same worker name: it knows its runs died with it
    done = wait_for(
        lambda: (e := inbox_entry(root, stack.url, "big.bin.c4gh")) and e["status"] in ("ready", "error") and e,
        180,
        "the restarted worker to finish",
    )
    assert done["status"] == "ready", done
    assert done["sha256"] == hashlib.sha256(plain).hexdigest()
    assert len(bucket_keys(stack, "archive")) == 1
    report = stack.manage("archive_verify", "--no-progress")  # exit status 0, or manage() fails the test
    assert "1 ok, 0 with problems" in report
    stack.state["big"] = {"accession": done["accession"], "plain_sha256": done["sha256"], "size": len(plain)}
    stack.state["dataset"] = publish(stack, [done["accession"]])


def test_worker_killed_mid_export_never_publishes_a_half_copy(stack, tmp_path):
    big = archived_big_file(stack, tmp_path)
    alice = stack.session("alice")
    keys = ClientKeyPair(tmp_path)
    headers = {"X-C4GH-Public-Key": keys.header_value}
    created = alice.post(stack.url + "/api/exports", json={"files": [big["accession"]]}, headers=headers, timeout=30)
    assert created.status_code == 202, created.text
    export_url = f"{stack.url}/api/exports/{created.json()['id']}"
    wait_for(lambda: alice.get(export_url, timeout=20).json()["status"] == "running", 60, "the export to start", 0.01)
    time.sleep(0.2)
    stack.kill("worker")
    killed = alice.get(export_url, timeout=20).json()
    assert killed["status"] != "done" and killed["links"] == [], killed
    assert bucket_keys(stack, "outbox") == []

    stack.start_worker()
    final = wait_for(
        lambda: (e := alice.get(export_url, timeout=20).json())["status"] in ("done", "failed") and e,
        30,
        "the export to complete or fail after the restart",
        0.5,
    )
    if final["status"] == "failed":
        assert final["error"] and final["links"] == [], final
        assert bucket_keys(stack, "outbox") == []
    else:
        [link] = final["links"]
        copy = requests.get(link["url"] if link["url"].startswith("http") else stack.url + link["url"], timeout=120)
        assert copy.status_code == 200 and len(copy.content) == link["size"]
        assert hashlib.sha256(keys.decrypt(copy.content)).hexdigest() == big["plain_sha256"]


# --- a short load --------------------------------------------------------------------------------------


def _bench_load():
    """bench/load.py as a module (bench/ is a folder of scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_load", Path(__file__).resolve().parents[2] / "bench" / "load.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_short_mixed_load_sees_no_errors(stack, tmp_path):
    """bench/load.py's mix (htsget tickets, 4 KiB range downloads, listings), 20 clients for 10 s."""
    load = _bench_load()
    target = load.seed(stack, tmp_path)
    result = load.run_load(target, phase="mix", clients=20, seconds=10, server_pgid=stack.processes["web"].pid)
    summary = result.summary()
    assert summary["errors"] == {}, summary
    assert set(summary["by_kind"]) == {"ticket", "range", "listing"} and summary["ok"] > 50, summary


# --- the object store unreachable during a download -----------------------------------------------


def test_object_store_cut_mid_download_ends_in_a_short_read_not_a_complete_200(stack, tmp_path):
    big = archived_big_file(stack, tmp_path)
    alice = stack.session("alice")
    url = f"{stack.url}/api/files/{big['accession']}/content"
    try:
        with alice.get(url, stream=True, timeout=60) as response:
            assert response.status_code == 200
            length = int(response.headers["Content-Length"])
            got = 0
            chunks = response.iter_content(256 * 1024)
            got += len(next(chunks))
            stack.proxy.cut()
            with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
                for chunk in chunks:
                    got += len(chunk)
            assert got < length
        assert requests.get(stack.url + "/health/ready", timeout=30).status_code == 503  # and says so
    finally:
        stack.proxy.restore()
    stack.wait_ready()


def test_object_store_unreachable_before_a_download_gives_a_clean_error(stack, tmp_path):
    big = archived_big_file(stack, tmp_path)
    alice = stack.session("alice")
    stack.proxy.cut()
    try:
        started = time.monotonic()
        try:
            response = alice.get(f"{stack.url}/api/files/{big['accession']}/content", timeout=120)
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as exc:
            pytest.fail(
                f"a 200 was started and then cut ({exc!r}); the store should be asked before the status is sent"
            )
        assert response.status_code == 503, (response.status_code, response.text[:300])
        assert response.json()["error"] and response.json()["detail"]
        assert time.monotonic() - started < 60
    finally:
        stack.proxy.restore()
    stack.wait_ready()


# --- PostgreSQL restarted under load ------------------------------------------------------------------


def _hammer(stack, token: str, stop: threading.Event, results: list):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    while not stop.is_set():
        at = time.monotonic()
        try:
            response = session.get(stack.url + "/api/datasets", timeout=15)
            results.append((at, time.monotonic(), response.status_code, response.text[:400]))
        except requests.RequestException as exc:
            results.append((at, time.monotonic(), type(exc).__name__, ""))
        time.sleep(0.02)


def test_postgres_restart_under_load_fails_cleanly_then_recovers_without_a_web_restart(stack):
    token = stack.token("alice")
    web_pid = stack.processes["web"].pid
    stop, results = threading.Event(), []
    threads = [threading.Thread(target=_hammer, args=(stack, token, stop, results)) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        down_at = time.monotonic()
        stack.postgres.stop()
        time.sleep(3)
        stack.postgres.start()
        up_at = time.monotonic()
        time.sleep(6)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert stack.processes["web"].poll() is None and stack.processes["web"].pid == web_pid
    before = [r for r in results if r[1] < down_at]  # answered before PostgreSQL began to stop
    during = [r for r in results if down_at <= r[0] < up_at]
    after = [r for r in results if r[0] >= up_at + 3]  # a few seconds for pooled connections to be found broken
    assert before and all(r[2] == 200 for r in before), {r[2] for r in before}
    assert during, "no request was made while PostgreSQL was down"
    failures = [r for r in during if r[2] != 200]
    assert failures, "requests succeeded while the database was down?"
    for _, _, status, body in failures:
        assert status == 503, f"not a clean failure: {status} {body}"  # never a hang or a dropped connection
        assert json.loads(body)["error"] == "ServiceUnavailable", body
        assert "Traceback" not in body and "psycopg" not in body and "OperationalError" not in body, body
    late = [r for r in after if r[2] != 200]
    assert after and not late, (len(late), len(after), late[:3], stack.log("web")[-3000:])
    stack.wait_ready()


# --- Redis restarted -------------------------------------------------------------------------------


def test_redis_restart_loses_no_task(stack, tmp_path):
    settings = json.loads(
        stack.manage(
            "shell",
            "-c",
            (
                "import json; from django.conf import settings as s\n"
                "print(json.dumps({'acks_late': s.CELERY_TASK_ACKS_LATE, 'reject': s.CELERY_TASK_REJECT_ON_WORKER_LOST,"
                " 'visibility': s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'], 'limit': s.CELERY_TASK_TIME_LIMIT,"
                " 'prefetch': s.CELERY_WORKER_PREFETCH_MULTIPLIER}))"
            ),
        )
        .strip()
        .splitlines()[-1]
    )
    assert settings["acks_late"] and settings["reject"] and settings["prefetch"] == 1
    assert settings["visibility"] > settings["limit"], "a long job would be handed to a second worker while it runs"

    root = stack.session("root")
    stack.stop("worker")  # the task waits in Redis while Redis restarts
    queued = encrypt_for_archive(stack, os.urandom(300_000), tmp_path / "queued.bin.c4gh")
    assert root.put(stack.url + "/api/inbox/queued.bin.c4gh", data=queued.read_bytes(), timeout=60).status_code == 201
    stack.redis.restart(down_for=1)
    stack.start_worker()
    done = wait_for(
        lambda: (e := inbox_entry(root, stack.url, "queued.bin.c4gh")) and e["status"] in ("ready", "error") and e,
        90,
        "the task queued before the Redis restart",
    )
    assert done["status"] == "ready", done

    stack.redis.restart(down_for=1)  # with the worker running: it reconnects and takes new work
    after = encrypt_for_archive(stack, os.urandom(200_000), tmp_path / "after.bin.c4gh")
    wait_for(
        lambda: (
            root.put(stack.url + "/api/inbox/after.bin.c4gh", data=after.read_bytes(), timeout=60).status_code == 201
        ),
        60,
        "an upload after the Redis restart",
        1,
    )
    done = wait_for(
        lambda: (e := inbox_entry(root, stack.url, "after.bin.c4gh")) and e["status"] in ("ready", "error") and e,
        120,
        "a task sent after the Redis restart",
    )
    assert done["status"] == "ready", done
    stack.wait_ready()


# --- a full disk under the inbox -------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 8 MiB ext4 filesystem on a loop device (as tests/ingest/test_upload.py does)."""
    import shutil

    if os.geteuid() != 0 or not shutil.which("mkfs.ext4"):
        pytest.skip("mounting a small filesystem needs root and mkfs.ext4")
    image, point = tmp_path / "tiny.img", tmp_path / "tiny"
    point.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(8 * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-b", "1024", "-m", "0", str(image)], check=True, capture_output=True)
    result = subprocess.run(["mount", "-o", "loop", str(image), str(point)], capture_output=True)
    if result.returncode:
        pytest.skip(f"cannot mount a loop filesystem: {result.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False)


def _trickle_put(
    port: int,
    path: str,
    token: str,
    body: bytes,
    *,
    piece: int,
    pause: float,
    timeout: float = 60,
    give_up_after: float | None = None,
):
    """PUT with Content-Length, sending `piece` bytes every `pause` seconds; (status, body) or the error.

    With `give_up_after`, stop sending after that many seconds and return ("still open", b"").
    """
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest("PUT", path)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        for start in range(0, len(body), piece):
            conn.send(body[start : start + piece])
            time.sleep(pause)
            if select.select([conn.sock], [], [], 0)[0]:
                break  # the server answered (or hung up) before the body was complete
            if give_up_after is not None and time.monotonic() - started > give_up_after:
                return "still open", b""
        response = conn.getresponse()
        return response.status, response.read()
    except OSError as exc:
        return exc, b""
    finally:
        conn.close()


def test_disk_full_while_uploading_is_a_clean_507_with_no_partial_file(stack, tiny_disk):
    """Two uploads that each fit the free space when they start race for it: they cannot both fit,
    so at least one gets a clean 507 and keeps nothing. Usually the other wins whole; when both
    meet the full disk at the same moment (before the first one's partial file is gone), both are
    refused, and that is as clean: every refusal is InsufficientStorage, every file left is a
    winner's whole file, and the inbox lists exactly the winners."""
    port = free_port()
    stack.start_web("web-tiny", INBOX_URL=tiny_disk.as_uri(), GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1")
    try:
        wait_for_port(port, timeout=60)
        token = stack.token("root")
        size = int(os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize * 0.6)
        results = {}

        def upload(name):
            results[name] = _trickle_put(
                port, f"/api/inbox/{name}", token, os.urandom(size), piece=256 * 1024, pause=0.02
            )

        threads = [threading.Thread(target=upload, args=(f"race-{i}.bin.c4gh",)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        statuses = sorted(status for status, _ in results.values())
        assert statuses in ([201, 507], [507, 507]), results
        for status, body in results.values():
            if status == 507:
                assert json.loads(body)["error"] == "InsufficientStorage"
        winners = statuses.count(201)
        files = [p for p in tiny_disk.rglob("*") if p.is_file() and "lost+found" not in p.parts]
        assert len(files) == winners and all(f.stat().st_size == size for f in files), files  # whole, or none
        root = stack.session("root")
        names = {e["name"] for e in root.get(stack.url + "/api/inbox", timeout=20).json()}
        assert sum(name.startswith("race-") for name in names) == winners
    finally:
        stack.stop("web-tiny")


# --- slow and oversized requests ----------------------------------------------------------------------


BODY_TIMEOUT = 10  # GUNICORN_BODY_TIMEOUT for this stack (deploy default: 60 s; and 1 MiB/s minimum rate)


def test_a_trickling_upload_is_cut_off_and_leaves_nothing(stack):
    token = stack.token("root")
    started = time.monotonic()
    status, _ = _trickle_put(
        stack.port,
        "/api/inbox/slow.bin.c4gh",
        token,
        os.urandom(2 * MiB),
        piece=1,
        pause=0.5,
        timeout=60,
        give_up_after=BODY_TIMEOUT + 20,
    )
    waited = time.monotonic() - started
    assert status != "still open", f"the server let a client trickle two bytes a second for {waited:.0f} s"
    assert not isinstance(status, int) or status in (400, 408), status
    root = stack.session("root")
    assert inbox_entry(root, stack.url, "slow.bin.c4gh") is None
    assert not [k for k in bucket_keys(stack, "inbox") if k.endswith("slow.bin.c4gh")]


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


def test_oversized_request_lines_and_headers_are_refused_by_the_server(stack):
    long_line = _raw(
        stack.port, b"GET /health/live?" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert long_line.startswith(b"HTTP/1.1 414") or long_line.startswith(b"HTTP/1.1 400"), long_line[:100]
    big_header = _raw(
        stack.port, b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\nConnection: close\r\n\r\n"
    )
    assert big_header.startswith(b"HTTP/1.1 431") or big_header.startswith(b"HTTP/1.1 400"), big_header[:100]
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(500))
    many_headers = _raw(stack.port, b"GET /health/live HTTP/1.1\r\nHost: x\r\n" + many + b"Connection: close\r\n\r\n")
    assert many_headers.startswith(b"HTTP/1.1 431") or many_headers.startswith(b"HTTP/1.1 400"), many_headers[:100]
    huge_token = requests.get(
        stack.url + "/api/datasets", headers={"Authorization": "Bearer " + "x" * 8000}, timeout=10
    )
    assert huge_token.status_code == 401 and huge_token.json()["error"]
    assert requests.get(stack.url + "/health/live", timeout=10).status_code == 200  # and it still serves

"""Ingest throughput and memory, next to `crypt4gh decrypt | sha256sum` on the same file.

    .venv/bin/python bench/ingest.py [--size-mib 1024] [--small-mib 256] [--workdir /tmp] [--json]
    .venv/bin/python bench/ingest.py --http [--size-mib 1024] [--json]
    .venv/bin/python bench/ingest.py --workers 2 [--files 8] [--size-mib 128] [--json]

Makes a random file, encrypts it to the archive key with the crypt4gh tool, and times
  - ours: the ingest service the Celery task runs (`runs.run_ingest`: header, every segment's
    MAC, sha256 + md5 of the plaintext, sha256 of the body, body written to a local archive
    folder with fsync, database bookkeeping), in a fresh process like a worker's;
  - the tool: `crypt4gh decrypt --sk <archive key> < file | sha256sum`.
It prints MiB/s for both, the ratio (goal >= 1.6) and the ingest process's peak RSS for a small
and the full size, to show that memory does not grow with the file size. Embedded settings
(SQLite, local folders, tasks in-process) in a scratch folder; nothing else is touched.

`--http` measures what a submitter sees instead: one `PUT /api/inbox/{name}` of the whole file
through gunicorn (deploy/gunicorn.conf.py) until `GET /api/inbox` says `ready`, with a Celery
worker on Redis and PostgreSQL (a scratch database), local folders as stores; ratio against the
tool on the same file (goal >= 1.0). `--workers N` queues `--files` uploads with no worker
running, then times one worker and then N workers (fresh uploads each) until all are ready,
from the first run's start to the last one's end as the database records them (so the workers'
start-up is not counted): `workers_ratio` = time with 1 / time with N (goal >= 1.6 for 2), and
`runs_at_once` = the runs' summed durations / that span (about N when the workers really ingest
side by side, 1 if something serialised them), with the machine's `busy_cores` and `iowait_share`
meanwhile (/proc/stat: what limits N workers). Whole-file PUTs are verified on receipt, so their
runs only copy the body; `--full-runs` uploads each file as one resumable part instead, so that
every run does the whole pass (decryption, MACs, three digests, the archive write).
`--json` prints one JSON object as the last line: `{"ratio", "ingest_mib_s", "tool_mib_s",
"peak_rss_mib", "memory_flat", ...}`, `{"http_ratio", "http_mib_s", "upload_mib_s", "tool_mib_s",
...}` or `{"workers_ratio", "runs_at_once", "one_worker_mib_s", ...}`.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ingest_stack import PASSPHRASE, IngestStack, bench_env, stack_secret_key  # bench/ is on sys.path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CRYPT4GH = str(Path(sys.executable).with_name("crypt4gh"))


def _child(mode: str, data_dir: Path, *args: str) -> dict:
    out = subprocess.run(
        [PYTHON, __file__, "--child", mode, *args], env=bench_env(data_dir), cwd=REPO, capture_output=True, text=True
    )
    if out.returncode:
        sys.exit(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(mode: str, args: list[str]) -> None:
    import django

    django.setup()
    from gdi_archive.keyring.archive import current_public_key, ensure_archive_keys, key_files

    if mode == "prepare":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        ensure_archive_keys()
        from gdi_archive.crypt4gh.keys import format_public_key

        pub = Path(args[0])
        pub.write_text(format_public_key(current_public_key()))
        print(json.dumps({"secret_key": str(key_files()[0])}))
        return
    if mode == "ingest":
        from django.contrib.auth import get_user_model

        from gdi_archive.ingest.runs import run_ingest
        from gdi_archive.ingest.services import receive_upload

        path = Path(args[0])
        user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True})
        with open(path, "rb") as handle:  # into the inbox first (not timed: that is the upload)
            file, _ = receive_upload(
                submitter=user,
                name=f"{time.time_ns()}-{path.name}",
                chunks=iter(lambda: handle.read(8 << 20), b""),
                size=path.stat().st_size,
                enqueue=False,
            )
        archive_store_path = Path(os.environ["DATA_DIR"]) / "archive"
        import resource

        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        result = run_ingest(file_id=file.pk, worker="bench")
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert result is not None and result.status == "ready", result and result.error
        shutil.rmtree(archive_store_path, ignore_errors=True)  # keep the scratch disk small
        print(json.dumps({"seconds": seconds, "cpu": cpu, "sha256": result.sha256, "peak_rss_mib": _peak_rss_mib()}))
        return
    raise SystemExit(f"unknown mode {mode}")


def make_encrypted(workdir: Path, size: int, pub: Path) -> tuple[Path, str]:
    import hashlib

    plain, encrypted = workdir / f"plain-{size}", workdir / f"plain-{size}.c4gh"
    digest = hashlib.sha256()
    with open(plain, "wb") as handle:
        left = size
        while left:
            block = os.urandom(min(left, 8 << 20))
            digest.update(block)
            handle.write(block)
            left -= len(block)
    with open(plain, "rb") as src, open(encrypted, "wb") as dst:
        subprocess.run([CRYPT4GH, "encrypt", "--recipient_pk", str(pub)], stdin=src, stdout=dst, check=True)
    plain.unlink()
    return encrypted, digest.hexdigest()


def time_tool(encrypted: Path, secret_key: str) -> tuple[float, float, str]:
    import resource

    env = {**os.environ, "C4GH_PASSPHRASE": PASSPHRASE}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(encrypted, "rb") as src:
        decrypt = subprocess.Popen(
            [CRYPT4GH, "decrypt", "--sk", secret_key],
            stdin=src,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        out = subprocess.run(["sha256sum"], stdin=decrypt.stdout, capture_output=True, text=True, check=True)
        decrypt.stdout.close()
        if decrypt.wait():
            sys.exit("crypt4gh decrypt failed")
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, out.stdout.split()[0]


def _warm(path: Path) -> None:
    with open(path, "rb") as handle:
        while handle.read(8 << 20):
            pass


# --- the HTTP path and several workers: gunicorn, Celery workers, PostgreSQL, Redis ------------


def bench_http(args, workdir: Path) -> dict:
    """One whole-file PUT through gunicorn until ready, next to the tool on the same file."""
    stack = IngestStack(workdir)
    try:
        pub = stack.up()
        stack.start_workers(1)
        encrypted, expected = make_encrypted(workdir, args.size_mib << 20, pub)
        secret_key = str(stack_secret_key(workdir))
        ours, tool = [], []
        for attempt in range(args.repeat):
            _warm(encrypted)
            seconds, _, digest = time_tool(encrypted, secret_key)
            assert digest == expected, "crypt4gh decrypt gave another sha256"
            tool.append(seconds)
            _warm(encrypted)
            name = f"http-{attempt}-{encrypted.name}"
            started = time.perf_counter()
            stack.put(encrypted, name)
            uploaded = time.perf_counter() - started
            stack.wait_ready({name})
            ours.append((time.perf_counter() - started, uploaded))
        best, upload = min(ours)
        mib = args.size_mib
        row = {
            "size_mib": mib,
            "http_mib_s": round(mib / best, 1),
            "upload_mib_s": round(mib / upload, 1),
            "tool_mib_s": round(mib / min(tool), 1),
            "http_ratio": round(min(tool) / best, 2),
        }
        print(
            f"PUT {mib} MiB until ready: {row['http_mib_s']} MiB/s (the upload itself {row['upload_mib_s']} MiB/s), "
            f"tool {row['tool_mib_s']} MiB/s: ratio {row['http_ratio']} (goal >= 1.0): "
            f"{'met' if row['http_ratio'] >= 1.0 else 'NOT met'}"
        )
        return row
    finally:
        stack.down()


def _cpu_ticks() -> list[int]:
    """The machine's CPU counters (/proc/stat, all cores together)."""
    return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]


def _cpu_use(before, after) -> tuple[float, float]:
    """Cores busy on average between two readings, and the share of the time spent in iowait."""
    delta = [y - x for x, y in zip(before, after, strict=False)]
    total = sum(delta[:8]) or 1
    idle, iowait = delta[3], delta[4]
    cores = os.cpu_count() or 1
    return round(cores * (total - idle - iowait) / total, 2), round(iowait / total, 3)


def bench_workers(args, workdir: Path) -> dict:
    """--files uploads queued with no worker, ingested by one worker, then by N (fresh uploads)."""
    stack = IngestStack(workdir)
    try:
        pub = stack.up()
        encrypted, _ = make_encrypted(workdir, args.size_mib << 20, pub)
        timings, overlap, usage = {}, {}, {}
        for count in (1, args.workers):
            names = set()
            for n in range(args.files):
                name = f"w{count}-{n}-{encrypted.name}"
                stack.put(encrypted, name, as_part=args.full_runs)
                names.add(name)
            stack.start_workers(count)
            before = _cpu_ticks()
            stack.wait_ready(names)
            usage[count] = _cpu_use(before, _cpu_ticks())
            timings[count], overlap[count] = stack.ingest_span(names)  # first claim to last ready, not start-up
            stack.stop_workers()
        total = args.files * args.size_mib
        row = {
            "files": args.files,
            "size_mib": args.size_mib,
            "one_worker_mib_s": round(total / timings[1], 1),
            f"{args.workers}_workers_mib_s": round(total / timings[args.workers], 1),
            "workers_ratio": round(timings[1] / timings[args.workers], 2),
            "runs_at_once": round(overlap[args.workers], 2),  # ~N when N workers really ingest side by side
            "full_runs": args.full_runs,
            # What the machine did meanwhile (worker start-up included): cores busy and the share of
            # time idle waiting on the disk; with both cores busy at one worker, two cannot do more.
            "busy_cores": {str(n): usage[n][0] for n in usage},
            "iowait_share": {str(n): usage[n][1] for n in usage},
        }
        print(
            f"{args.files} x {args.size_mib} MiB: 1 worker {row['one_worker_mib_s']} MiB/s, {args.workers} workers "
            f"{row[f'{args.workers}_workers_mib_s']} MiB/s: ratio {row['workers_ratio']} (goal >= 1.6 for 2); "
            f"{row['runs_at_once']} runs at once on average with {args.workers}; cores busy "
            f"{usage[1][0]} with 1, {usage[args.workers][0]} with {args.workers} (iowait {usage[1][1]}, "
            f"{usage[args.workers][1]})"
        )
        return row
    finally:
        stack.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--small-mib", type=int, default=256, help="second size, for peak memory (0: skip)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each; the best is reported")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--http", action="store_true", help="time a PUT through gunicorn until ready instead")
    parser.add_argument("--workers", type=int, default=0, help="compare 1 and N Celery workers on --files uploads")
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument(
        "--full-runs",
        action="store_true",
        help="--workers: upload as one resumable part (not verified on receipt): each run does the whole pass",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child[0], args.child[1:])
        return

    workdir = Path(tempfile.mkdtemp(prefix="gdi-bench-ingest-", dir=args.workdir))
    try:
        if args.http or args.workers:
            print(f"cpus: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}, scratch: {workdir}")
            row = bench_http(args, workdir) if args.http else bench_workers(args, workdir)
            if args.json:
                print(json.dumps(row))
            return
        data_dir = workdir / "data"
        pub = workdir / "archive.pub"
        secret_key = _child("prepare", data_dir, str(pub))["secret_key"]
        print(f"cpus: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}, scratch: {workdir}")
        sizes = [s for s in (args.small_mib, args.size_mib) if s]
        rows = {}
        for mib in sorted(set(sizes)):
            encrypted, expected = make_encrypted(workdir, mib << 20, pub)
            ours, tool, ours_cpu, tool_cpu, rss = [], [], [], [], []
            for _ in range(args.repeat):  # interleaved, so both see the same machine load
                _warm(encrypted)
                seconds, cpu, digest = time_tool(encrypted, secret_key)
                assert digest == expected, "crypt4gh decrypt gave another sha256"
                tool.append(seconds)
                tool_cpu.append(cpu)
                _warm(encrypted)
                result = _child("ingest", data_dir, str(encrypted))
                assert result["sha256"] == expected, "ingest recorded another sha256"
                ours.append(result["seconds"])
                ours_cpu.append(result["cpu"])
                rss.append(result["peak_rss_mib"])
            encrypted.unlink()
            rows[mib] = (mib / min(ours), mib / min(tool), max(rss), min(ours_cpu), min(tool_cpu))
        print("best of", args.repeat, "runs each; CPU = user + system seconds of all processes/threads involved")
        print(
            f"{'size':>9} {'ingest MiB/s':>13} {'tool MiB/s':>11} {'ratio':>6} {'ingest CPU s':>13} {'tool CPU s':>11} "
            f"{'ingest peak RSS':>16}"
        )
        for mib, (ours, tool, rss, ocpu, tcpu) in rows.items():
            print(
                f"{mib:>5} MiB {ours:>13.1f} {tool:>11.1f} {ours / tool:>6.2f} {ocpu:>13.2f} {tcpu:>11.2f} {rss:>12.1f} MiB"
            )
        main_ratio = rows[args.size_mib][0] / rows[args.size_mib][1]
        print(
            f"ratio at {args.size_mib} MiB: {main_ratio:.2f} (goal >= 1.6): {'met' if main_ratio >= 1.6 else 'NOT met'}"
        )
        flat = None
        if len(rows) > 1:
            small, big = rows[min(rows)][2], rows[max(rows)][2]
            flat = big < small * 1.2 + 8
            print(
                f"peak RSS {small:.1f} MiB at {min(rows)} MiB vs {big:.1f} MiB at {max(rows)} MiB "
                f"({'flat' if flat else 'GROWS'})"
            )
        if args.json:
            ours, tool, rss, _, _ = rows[args.size_mib]
            print(
                json.dumps(
                    {
                        "size_mib": args.size_mib,
                        "ingest_mib_s": round(ours, 1),
                        "tool_mib_s": round(tool, 1),
                        "ratio": round(main_ratio, 2),
                        "peak_rss_mib": round(rss, 1),
                        "memory_flat": flat,
                    }
                )
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

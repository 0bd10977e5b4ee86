"""CPU seconds per GiB of each ingest stage and thread: figures that do not depend on the neighbours.

    .venv/bin/python bench/ingest_stages.py [--mib 1024] [--workdir /tmp] [--json]

On a shared machine wall-clock figures move by 2x; CPU time per thread (`time.thread_time`,
user + system) does not. On an idle 2-core machine a pass's wall time is bounded below by
max(its busiest thread, its total CPU / 2), printed as `floor_s_per_gib`. Measured here:
  - each stage alone over 1 GiB in memory (`alone`): sha256, md5, ChaCha20-Poly1305 decryption
    of 64 KiB segments (the pipeline's cipher), copying the bytes once, writing 1 GiB to a
    LocalStore (with fsync);
  - `verify_and_store` (a run that does the whole pass: a resumable upload, or the service bench),
    reading a Crypt4GH file from a LocalStore and writing the body to another;
  - `receive` (a whole-file PUT verified as it arrives: `ReceivingCheck` fed 4 MiB pieces, the
    inbox write in the calling thread, the verified body staged in the archive store: the run
    after it then only takes that object), and `copy_verified` (the run after such an upload
    when the staged body cannot be taken: an inbox store without fingerprints, a changed object).
No Django, no database: the pipeline and the local store only, in a scratch folder.
`--json`: the last line is {"alone": {stage: s/GiB}, "<pass>": {"total_s_per_gib",
"busiest_s_per_gib", "floor_s_per_gib", "system_s_per_gib", "threads": {name: s/GiB}}}.
"""

import argparse
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305  # noqa: E402

from gdi_archive.crypt4gh import encrypt_stream  # noqa: E402
from gdi_archive.crypt4gh.keys import public_from_secret  # noqa: E402
from gdi_archive.crypt4gh.segments import CIPHER_SEGMENT_SIZE, SEGMENT_SIZE  # noqa: E402
from gdi_archive.ingest import pipeline  # noqa: E402
from gdi_archive.storage.local import LocalStore  # noqa: E402

GIB = 1 << 30
_CPU: dict[str, float] = {}
_run = threading.Thread.run


def _timed_run(self):
    began = time.thread_time()
    try:
        _run(self)
    finally:
        _CPU[self.name] = _CPU.get(self.name, 0.0) + time.thread_time() - began


threading.Thread.run = _timed_run  # every pipeline thread reports its own CPU when it ends


def _rusage() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_stime


def measure(fn, gib: float) -> dict:
    _CPU.clear()
    total0, sys0 = _rusage()
    main0 = time.thread_time()
    fn()
    _CPU["main"] = time.thread_time() - main0
    total1, sys1 = _rusage()
    threads = {name: round(cpu / gib, 3) for name, cpu in sorted(_CPU.items())}
    total = (total1 - total0) / gib
    busiest = max(threads.values())
    return {
        "total_s_per_gib": round(total, 3),
        "system_s_per_gib": round((sys1 - sys0) / gib, 3),
        "busiest_s_per_gib": round(busiest, 3),
        "floor_s_per_gib": round(max(busiest, total / 2), 3),
        "threads": threads,
    }


def alone(workdir: Path) -> dict:
    """Each stage by itself over 1 GiB (thread CPU seconds)."""
    block = os.urandom(64 * SEGMENT_SIZE)
    reps = GIB // len(block)
    key = os.urandom(32)
    aead = ChaCha20Poly1305(key)
    cipher = b"".join(
        nonce + aead.encrypt(nonce, block[n * SEGMENT_SIZE : (n + 1) * SEGMENT_SIZE], None)
        for n, nonce in ((n, os.urandom(12)) for n in range(64))
    )
    out = memoryview(bytearray(len(block)))
    view = memoryview(cipher)

    def digest(kind):
        h = hashlib.new(kind)
        for _ in range(reps):
            h.update(block)

    def decrypt():
        for _ in range(reps):
            for n in range(64):
                seg = view[n * CIPHER_SEGMENT_SIZE : (n + 1) * CIPHER_SEGMENT_SIZE]
                aead.decrypt_into(seg[:12], seg[12:], None, out[n * SEGMENT_SIZE : (n + 1) * SEGMENT_SIZE])

    def copy():
        for _ in range(reps):
            bytes(memoryview(block))

    def write():
        LocalStore(workdir / "alone").write("k", (block for _ in range(reps)))

    figures = {}
    for name, fn in (
        ("sha256", lambda: digest("sha256")),
        ("md5", lambda: digest("md5")),
        ("decrypt_chacha20poly1305", decrypt),
        ("copy_once", copy),
        ("localstore_write_fsync", write),
    ):
        began = time.thread_time()
        fn()
        figures[name] = round(time.thread_time() - began, 3)
    shutil.rmtree(workdir / "alone", ignore_errors=True)
    return figures


def make_file(workdir: Path, mib: int) -> tuple[bytes, str]:
    secret = os.urandom(32)
    block = os.urandom(8 << 20)
    digest = hashlib.sha256()
    for _ in range(mib // 8):
        digest.update(block)
    LocalStore(workdir / "src").write(
        "file.c4gh", encrypt_stream((block for _ in range(mib // 8)), [public_from_secret(secret)])
    )
    return secret, digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="gdi-bench-stages-", dir=args.workdir))
    try:
        report = {"alone": alone(workdir)}
        secret, expected = make_file(workdir, args.mib)
        source, archive, inbox = (
            LocalStore(workdir / "src"),
            LocalStore(workdir / "archive"),
            LocalStore(workdir / "inbox"),
        )
        gib = source.size("file.c4gh") / GIB

        def full():
            with source.open_sequential("file.c4gh") as src:
                done = pipeline.verify_and_store(
                    source=src, archive=archive, archive_key="full", secret_keys=[secret], expected_sha256=expected
                )
            assert done.sha256 == expected

        received = {}

        def receive():
            check = pipeline.ReceivingCheck(
                secret_keys=[secret], expected_sha256=expected, archive=archive, staged_key="staged"
            )
            with source.open_sequential("file.c4gh") as src:
                inbox.write("upload", check.wrap(iter(lambda: src.read(4 << 20), b"")))
            received["v"] = check.result()
            assert received["v"] is not None and received["v"].sha256 == expected

        def copy():
            with inbox.open_sequential("upload") as src:
                pipeline.copy_verified(
                    source=src, archive=archive, archive_key="copied", secret_keys=[secret], received=received["v"]
                )

        for name, fn in (("verify_and_store", full), ("receive", receive), ("copy_verified", copy)):
            report[name] = measure(fn, gib)
        print(f"load average {os.getloadavg()[0]:.1f}; CPU seconds per GiB (user + system)")
        print("alone:", ", ".join(f"{k} {v:.2f}" for k, v in report["alone"].items()))
        for name in ("verify_and_store", "receive", "copy_verified"):
            row = report[name]
            print(
                f"{name}: total {row['total_s_per_gib']:.2f} (system {row['system_s_per_gib']:.2f}), busiest thread "
                f"{row['busiest_s_per_gib']:.2f}, floor on 2 idle cores {row['floor_s_per_gib']:.2f} s/GiB; "
                + ", ".join(f"{k} {v:.2f}" for k, v in row["threads"].items())
            )
        if args.json:
            print(json.dumps(report))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""CPU per small ranged read from S3 (a real SeaweedFS), in this process: a figure the neighbours on
a shared machine do not move.

    .venv/bin/python bench/s3_read_cpu.py [--reads 3000] [--size 4096] [--rounds 3] [--endpoint URL]

Starts a SeaweedFS (tests/seaweedfs.py) unless --endpoint is given (access key and secret
"testing"), writes one 4 MiB object and then, interleaved for --rounds rounds, reads --reads
ranges of --size bytes at random offsets:
  - botocore: `client.get_object(Range=...)` and `Body.read()` (what S3Store did before)
  - store:    `b"".join(S3Store.iter_range(key, start, start + size))` (the store's public path)
Prints µs of process CPU (time.process_time: this process only, not the server's) per read.
Under valgrind, `--kinds store --rounds 1` with two --reads counts and the difference of the
instruction counts gives instructions per read (user space; what the neighbours cannot move).
"""

import argparse
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _per_call(fn, n: int) -> float:
    began = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - began) / n * 1e6


def run(endpoint: str, reads: int, size: int, rounds: int, only=("botocore", "store"), warm: int = 50) -> dict:
    from gdi_archive.storage import S3Store

    store = S3Store(f"bench-{uuid.uuid4().hex[:10]}", endpoint_url=endpoint, access_key="testing", secret_key="testing")
    store.ensure_ready()
    length = 4 * 1024 * 1024
    data = os.urandom(length)
    store.write("object", [data])
    rng = random.Random(1)

    def offset() -> int:
        return rng.randrange(0, length - size)

    def botocore_read():
        start = offset()
        body = store.client.get_object(Bucket=store.bucket, Key="object", Range=f"bytes={start}-{start + size - 1}")
        assert len(body["Body"].read()) == size

    def store_read():
        start = offset()
        assert len(b"".join(store.iter_range("object", start, start + size))) == size

    kinds = {name: fn for name, fn in (("botocore", botocore_read), ("store", store_read)) if name in only}
    for fn in kinds.values():
        for _ in range(warm):
            fn()  # warm: connections, credentials, caches
    results: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(rounds):
        for name, fn in kinds.items():
            results[name].append(_per_call(fn, reads))
    store.delete("object")
    return {name: sorted(values) for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--endpoint")
    parser.add_argument("--kinds", default="botocore,store")
    parser.add_argument("--warm", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.endpoint:
        results = run(args.endpoint, args.reads, args.size, args.rounds, args.kinds.split(","), args.warm)
    else:
        from tests.seaweedfs import SeaweedFS

        with SeaweedFS() as server:
            results = run(server.endpoint, args.reads, args.size, args.rounds, args.kinds.split(","), args.warm)
    for name, values in results.items():
        print(
            f"{name:10} µs CPU per call: "
            + ", ".join(f"{v:.0f}" for v in values)
            + f" (median {values[len(values) // 2]:.0f})"
        )
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()

"""How fast are our Crypt4GH segment paths? Ours against the `crypt4gh` library's own loops.

Decrypt: `gdi_archive.crypt4gh.decrypt_segments` fed 8 MiB chunks (as storage hands them over)
versus `crypt4gh.lib.decrypt` over a file object (both write nowhere). Encrypt:
`encrypt_stream` versus `crypt4gh.lib.encrypt`. Also the per-request work of a ranged download
(re-encrypt a header + plan a range) and the peak Python memory of our decrypt. Ratios
ours / library should be at least 0.8 (both call the same libsodium code).

    .venv/bin/python bench/crypt4gh_segments.py [--mib 256] [--repeat 3] [--json]

--json: the last line is {"mib", "decrypt_ratio", "encrypt_ratio", "mib_per_s": {name: MiB/s},
"ranged_header_us", "build_header_us", "decrypt_peak_mib"}.
"""

import argparse
import io
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crypt4gh import lib, sodium  # noqa: E402

from gdi_archive.crypt4gh import (  # noqa: E402
    build_header,
    decrypt_segments,
    encrypt_stream,
    open_header,
    plan_range,
    read_header,
    reencrypt_header,
)

CHUNK = 8 * 1024 * 1024


class Sink(io.RawIOBase):
    def __init__(self):
        self.count = 0

    def writable(self):
        return True

    def write(self, data):
        self.count += len(data)
        return len(data)


def best(repeat, fn):
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def chunks_of(data: bytes, size: int):
    view = memoryview(data)
    for i in range(0, len(view), size):
        yield view[i : i + size]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last")
    args = parser.parse_args()
    size = args.mib * 1024 * 1024

    sk = os.urandom(32)
    pk = sodium.derive_pk(sk)
    user_sk = os.urandom(32)
    user_pk = sodium.derive_pk(user_sk)
    plain = os.urandom(size)
    blob = b"".join(encrypt_stream(chunks_of(plain, CHUNK), [pk]))
    stream = io.BytesIO(blob)
    header = read_header(stream)
    body = stream.read()
    keys = open_header(header, [sk]).session_keys

    def ours_decrypt():
        n = sum(len(p) for p in decrypt_segments(chunks_of(body, CHUNK), keys))
        assert n == size

    def lib_decrypt():
        sink = Sink()
        lib.decrypt([(0, sk, None)], io.BytesIO(blob), sink)
        assert sink.count == size

    def ours_encrypt():
        sum(len(c) for c in encrypt_stream(chunks_of(plain, CHUNK), [pk]))

    def lib_encrypt():
        lib.encrypt([(0, os.urandom(32), pk)], io.BytesIO(plain), Sink())

    mib = size / 2**20
    results = {}
    for name, fn in (
        ("decrypt ours", ours_decrypt),
        ("decrypt crypt4gh.lib", lib_decrypt),
        ("encrypt ours", ours_encrypt),
        ("encrypt crypt4gh.lib", lib_encrypt),
    ):
        seconds = best(args.repeat, fn)
        results[name] = mib / seconds
        print(f"{name:24s} {mib / seconds:8.0f} MiB/s  ({seconds:.3f} s for {mib:.0f} MiB)")
    print(f"ratio decrypt ours/lib   {results['decrypt ours'] / results['decrypt crypt4gh.lib']:8.2f}")
    print(f"ratio encrypt ours/lib   {results['encrypt ours'] / results['encrypt crypt4gh.lib']:8.2f}")

    rounds = 2000
    began = time.perf_counter()
    for i in range(rounds):
        plan = plan_range(size, (i * 7919) % (size // 2), size // 2 + i)
        reencrypt_header(header, [sk], user_pk, edit_list=plan.edit_list)
    per_request = (time.perf_counter() - began) / rounds
    print(f"ranged request header    {per_request * 1e6:8.0f} µs  (open + plan + re-encrypt, per request)")
    began = time.perf_counter()
    for _ in range(rounds):
        build_header(keys, [user_pk])
    build_us = (time.perf_counter() - began) / rounds * 1e6
    print(f"build header             {build_us:8.0f} µs")

    tracemalloc.start()
    ours_decrypt()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"decrypt peak Python mem  {peak / 2**20:8.2f} MiB for {mib:.0f} MiB (input chunks are {CHUNK // 2**20} MiB views)"
    )
    if args.json:
        figures = {
            "mib": args.mib,
            "decrypt_ratio": round(results["decrypt ours"] / results["decrypt crypt4gh.lib"], 3),
            "encrypt_ratio": round(results["encrypt ours"] / results["encrypt crypt4gh.lib"], 3),
            "mib_per_s": {name: round(value, 1) for name, value in results.items()},
            "ranged_header_us": round(per_request * 1e6, 1),
            "build_header_us": round(build_us, 1),
            "decrypt_peak_mib": round(peak / 2**20, 2),
        }
        print(json.dumps(figures))


if __name__ == "__main__":
    main()

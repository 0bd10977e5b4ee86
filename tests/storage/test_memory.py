"""Writing a large stream must not hold it in memory (uploads of whole genomes are 100+ GiB)."""

import tracemalloc

import pytest

from gdi_archive.storage import LocalStore

from .conftest import make_s3

SIZE = 256 * 1024 * 1024
CHUNK = b"\x5a" * (1024 * 1024)


def stream():
    for _ in range(SIZE // len(CHUNK)):
        yield CHUNK


def peak_while(call) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_local_write_of_256_mib_keeps_memory_flat(tmp_path):
    store = LocalStore(tmp_path)
    peak = peak_while(lambda: store.write("big", stream()))
    assert store.size("big") == SIZE
    print(f"local write peak {peak / 2**20:.1f} MiB")
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes"
    read_peak = peak_while(lambda: sum(len(c) for c in store.iter_range("big", 0, None, chunk_size=1 << 20)))
    assert read_peak < 8 * 1024 * 1024, f"read peak {read_peak} bytes"


@pytest.mark.slow
@pytest.mark.s3
def test_s3_write_of_256_mib_keeps_memory_to_about_one_part(s3_server):
    store = make_s3(s3_server)  # default 16 MiB parts
    store.ensure_ready()
    peak = peak_while(lambda: store.write("big", stream()))
    assert store.size("big") == SIZE
    print(f"S3 write peak {peak / 2**20:.1f} MiB")
    assert peak < 3 * store.part_size, f"peak {peak} bytes for {store.part_size}-byte parts"
    read_peak = peak_while(lambda: sum(len(c) for c in store.iter_range("big", 0, 64 << 20, chunk_size=1 << 20)))
    assert read_peak < 8 * 1024 * 1024, f"read peak {read_peak} bytes"

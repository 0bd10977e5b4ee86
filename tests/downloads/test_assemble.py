"""Edge blocks of a region (downloads/genomic/assemble.py), on a real indexed BAM: the parts are
the same whether the edges are read one by one or together, and close edges are one read."""

import random

import pytest

from gdi_archive.downloads.genomic import assemble
from gdi_archive.downloads.genomic.indexes import parse_index
from gdi_archive.downloads.genomic.planner import Region, plan_pieces

from . import genomic_data


@pytest.fixture(scope="module")
def bam(tmp_path_factory):
    path = genomic_data.make_bam(tmp_path_factory.mktemp("assemble"), reads_per_ref=20000)
    return path.read_bytes(), parse_index("BAI", path.with_name(path.name + ".bai").read_bytes())


def _resolve(data, index, region, join_reads, monkeypatch):
    reads = []

    def read_plain(start, end):
        reads.append((start, end))
        return data[start:end]

    pieces = plan_pieces(index=index, size=len(data), regions=[region], names=lambda: ["chr1", "chr2"])
    monkeypatch.setattr(assemble, "JOIN_READS", join_reads)
    return assemble.resolve(pieces, read_plain, len(data)), reads


def test_close_edges_are_read_together_into_the_same_parts(bam, monkeypatch):
    data, index = bam
    rng = random.Random(11)
    joined_reads = separate_reads = two_edges = 0
    for _ in range(60):
        name, length = rng.choice(genomic_data.REFERENCES)
        start = rng.randrange(0, length - 20_000)
        region = Region(name, start, start + 20_000)
        separate, one_by_one = _resolve(data, index, region, 0, monkeypatch)
        joined, together = _resolve(data, index, region, 256 * 1024, monkeypatch)
        assert joined == separate, region
        edges = sorted(s for s, _ in one_by_one)
        if len(edges) == 2 and edges[1] - edges[0] < 256 * 1024:
            assert len(together) == 1, region  # both edges in one storage read
            two_edges += 1
        separate_reads += len(one_by_one)
        joined_reads += len(together)
    assert two_edges > 20  # the case is common: a 20 kb region spans a block boundary
    assert joined_reads < separate_reads


def test_far_edges_are_still_read_apart(bam, monkeypatch):
    """Edges further apart than JOIN_READS: the bytes between them are not read."""
    data, index = bam
    rng = random.Random(5)
    far = 0
    for _ in range(40):
        name, length = rng.choice(genomic_data.REFERENCES)
        start = rng.randrange(0, length // 2)
        region = Region(name, start, start + length // 3)
        _, one_by_one = _resolve(data, index, region, 0, monkeypatch)
        edges = sorted(s for s, _ in one_by_one)
        if len(edges) == 2 and edges[1] - edges[0] >= 256 * 1024:
            _, together = _resolve(data, index, region, 256 * 1024, monkeypatch)
            assert together == one_by_one
            assert all(end - start <= assemble.MAX_BLOCK for start, end in together)
            far += 1
    assert far > 10

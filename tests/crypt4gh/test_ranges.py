"""Range planning: the spliced header + body must decrypt with the plain `crypt4gh decrypt`
(no --range) to exactly the requested plaintext bytes."""

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdi_archive.crypt4gh import (
    CIPHER_SEGMENT_SIZE,
    SEGMENT_SIZE,
    RangeNotSatisfiable,
    apply_edit_list,
    body_size,
    decrypt_segments,
    open_header,
    plan_range,
    plan_regions,
    read_header,
    reencrypt_header,
)

from .tools import cli_decrypt, cli_encrypt, payload

SIZE = 3 * SEGMENT_SIZE + 12345  # 3 full segments and a short one


@pytest.fixture(scope="module")
def stored(archive_key):
    """A file as the archive keeps it: header for the archive key, body separately."""
    data = payload(SIZE, seed=42)
    stream = io.BytesIO(cli_encrypt(data, archive_key))
    header = read_header(stream)
    return data, header, stream.read()


def serve(stored, archive_key, user_key, plan) -> bytes:
    _, header, body = stored
    new_header = reencrypt_header(header, [archive_key.sk], user_key.pk, edit_list=plan.edit_list)
    return new_header + body[plan.body_start : plan.body_end]


def test_worked_example_from_the_standard():
    """standards.md C.9: plaintext [100000, 300000) of a file with at least 327680 bytes."""
    plan = plan_range(400000, 100000, 300000)
    assert (plan.first_segment, plan.last_segment, plan.segment_count) == (1, 4, 4)
    assert (plan.body_start, plan.body_end) == (65564, 327820)
    assert plan.body_end - plan.body_start == 262256
    assert plan.edit_list == (34464, 200000)
    H = 124
    assert (H + plan.body_start, H + plan.body_end - 1) == (65688, 327943)  # bytes=65688-327943


def test_worked_example_spliced_file(archive_key, user_key):
    data = payload(400000, seed=9)
    stream = io.BytesIO(cli_encrypt(data, archive_key))
    header, body = read_header(stream), stream.read()
    plan = plan_range(len(data), 100000, 300000)
    new_header = reencrypt_header(header, [archive_key.sk], user_key.pk, edit_list=plan.edit_list)
    assert len(new_header) == 216
    spliced = new_header + body[plan.body_start : plan.body_end]
    assert len(spliced) == 262472
    assert cli_decrypt(spliced, user_key) == data[100000:300000]


@pytest.mark.parametrize(
    "start, end",
    [
        (0, 1),  # first byte
        (SIZE - 1, SIZE),  # last byte
        (SIZE - 1, None),  # last byte, open end
        (65530, 65542),  # across the 64 KiB boundary
        (SEGMENT_SIZE - 1, 2 * SEGMENT_SIZE + 1),  # touches three segments
        (SEGMENT_SIZE, 2 * SEGMENT_SIZE),  # exactly one segment
        (0, SIZE),  # everything
        (3 * SEGMENT_SIZE, SIZE),  # only the short last segment
        (100, 100),  # empty
        (1000, SIZE + 5000),  # end past the size: clamped
        (1000, None),
    ],
)
def test_range_plans_decrypt_with_the_cli(stored, archive_key, user_key, start, end):
    data = stored[0]
    plan = plan_range(SIZE, start, end)
    if plan.end > start:
        assert plan.edit_list == (start - plan.first_segment * SEGMENT_SIZE, plan.end - start)
    assert cli_decrypt(serve(stored, archive_key, user_key, plan), user_key) == data[start:end]


def test_empty_range_plan_shape():
    plan = plan_range(SIZE, 70000, 70000)
    # Not (0, 0): the crypt4gh tool asserts on a zero-length keep (checked by the CLI test above).
    assert plan.segment_count == 0 and plan.body_start == plan.body_end and plan.edit_list == (0,)
    empty_file = plan_range(0, 0, None)
    assert (empty_file.body_start, empty_file.body_end, empty_file.edit_list) == (0, 0, (0,))


@pytest.mark.parametrize("start", [SIZE, SIZE + 1, 10**12])
def test_start_past_the_end_is_refused(start):
    with pytest.raises(RangeNotSatisfiable):
        plan_range(SIZE, start, None)
    with pytest.raises(ValueError):  # also a ValueError, for callers that only know that
        plan_range(SIZE, start, start + 10)


def test_nonsense_ranges_are_refused():
    with pytest.raises(ValueError):
        plan_range(SIZE, -1, 10)
    with pytest.raises(ValueError):
        plan_range(SIZE, 10, 5)
    with pytest.raises(RangeNotSatisfiable):
        plan_range(0, 1, None)


def test_regions_share_segments_and_decrypt_with_the_cli(stored, archive_key, user_key):
    data, header, body = stored
    ranges = [(0, 10), (20, 30), (70000, 70010), (65000, 66000), (3 * SEGMENT_SIZE + 5, None)]
    plan = plan_regions(SIZE, ranges)
    assert plan.ranges == ((0, 10), (20, 30), (65000, 66000), (70000, 70010), (3 * SEGMENT_SIZE + 5, SIZE))
    assert plan.segments == ((0, 1), (3, 3))  # segment 2 is skipped
    assert plan.spans == ((0, 2 * CIPHER_SEGMENT_SIZE), (3 * CIPHER_SEGMENT_SIZE, body_size(SIZE)))
    new_header = reencrypt_header(header, [archive_key.sk], user_key.pk, edit_list=plan.edit_list)
    spliced = new_header + b"".join(body[s:e] for s, e in plan.spans)
    expected = b"".join(data[s:e] for s, e in plan.ranges)
    assert len(expected) == plan.length
    assert cli_decrypt(spliced, user_key) == expected


def test_regions_edge_cases():
    assert plan_regions(SIZE, [(5, 5)]).edit_list == (0,) and plan_regions(SIZE, [(5, 5)]).spans == ()
    assert plan_regions(SIZE, [(0, 10), (5, 20)]).ranges == ((0, 20),)  # overlapping ranges merge
    assert plan_regions(SIZE, [(0, 10), (10, 20)]).edit_list == (0, 20)  # touching ranges merge
    with pytest.raises(ValueError):
        plan_regions(SIZE, [])
    with pytest.raises(RangeNotSatisfiable):
        plan_regions(SIZE, [(SIZE + 1, None)])


def spliced_plaintext(data: bytes, session_keys, body: bytes, plan) -> bytes:
    """What a reader gets from the spliced segments: our decryptor + the plan's edit list."""
    spans = plan.spans if hasattr(plan, "spans") else [(plan.body_start, plan.body_end)]
    return b"".join(apply_edit_list(decrypt_segments((body[s:e] for s, e in spans), session_keys), plan.edit_list))


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_ranges_decrypt_with_the_cli(archive_key, user_key, data):
    size = data.draw(st.integers(min_value=1, max_value=300 * 1024), label="size")
    start = data.draw(st.integers(min_value=0, max_value=size - 1), label="start")
    end = data.draw(st.one_of(st.none(), st.integers(min_value=start, max_value=size + 70000)), label="end")
    plain = payload(size, seed=size)
    stream = io.BytesIO(cli_encrypt(plain, archive_key))
    header, body = read_header(stream), stream.read()
    plan = plan_range(size, start, end)
    assert 0 <= plan.edit_list[0] < SEGMENT_SIZE
    assert plan.body_end - plan.body_start <= (plan.segment_count) * CIPHER_SEGMENT_SIZE
    new_header = reencrypt_header(header, [archive_key.sk], user_key.pk, edit_list=plan.edit_list)
    assert cli_decrypt(new_header + body[plan.body_start : plan.body_end], user_key) == plain[start:end]


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_region_sets_decrypt_to_the_merged_ranges(archive_key, data):
    size = data.draw(st.integers(min_value=1, max_value=300 * 1024), label="size")
    points = st.integers(min_value=0, max_value=size - 1)
    ranges = data.draw(
        st.lists(st.tuples(points, points).map(sorted).map(tuple), min_size=1, max_size=6), label="ranges"
    )
    plain = payload(size, seed=size + 1)
    stream = io.BytesIO(cli_encrypt(plain, archive_key))
    keys = open_header(read_header(stream), [archive_key.sk]).session_keys
    body = stream.read()
    plan = plan_regions(size, ranges)
    covered = sorted({i for s, e in ranges for i in range(s, e)})
    assert spliced_plaintext(plain, keys, body, plan) == bytes(plain[i] for i in covered)
    assert plan.body_length <= body_size(size)

"""Headers: reading, opening, building and re-encrypting, with the real tool as the judge."""

import io
import os

import pytest
from crypt4gh import header as lib_header

from gdi_archive.crypt4gh import (
    NotCrypt4GH,
    NotForOurKey,
    OpenedHeader,
    TruncatedFile,
    UnsupportedHeader,
    build_header,
    open_header,
    read_header,
    reencrypt_header,
)
from gdi_archive.crypt4gh.header import header_length

from .tools import cli_decrypt, cli_encrypt, payload


def split(blob: bytes) -> tuple[bytes, bytes]:
    stream = io.BytesIO(blob)
    header = read_header(stream)
    return header, stream.read()


def lib_packets(payloads, writer_sk, recipient_pk):
    """Header bytes built by the reference library (used to craft odd but well-sealed headers)."""
    packets = [p for payload in payloads for p in lib_header.encrypt(payload, [(0, writer_sk, recipient_pk)])]
    return lib_header.serialize(packets)


class OneByteAtATime(io.RawIOBase):
    """A stream that returns short reads, like a socket."""

    def __init__(self, data: bytes):
        self.inner = io.BytesIO(data)

    def read(self, n=-1):
        return self.inner.read(1 if n and n > 0 else n)


def test_read_header_stops_exactly_at_the_first_segment(archive_key):
    data = payload(70000)
    blob = cli_encrypt(data, archive_key)
    stream = OneByteAtATime(blob)
    header = read_header(stream)
    assert len(header) == 124 == header_length()
    assert header + stream.inner.read() == blob


def test_open_header_finds_which_of_our_keys_opens_it(archive_key, other_key, user_key):
    header, _ = split(cli_encrypt(b"hello", archive_key))
    opened = open_header(header, [other_key.sk, user_key.sk, archive_key.sk])
    assert isinstance(opened, OpenedHeader)
    assert opened.key_index == 2 and opened.edit_list is None and len(opened.session_keys) == 1
    with pytest.raises(NotForOurKey, match="not encrypted for any archive key"):
        open_header(header, [other_key.sk, user_key.sk])


@pytest.mark.parametrize(
    "blob, error",
    [
        (b"", NotCrypt4GH),
        (b"%PDF-1.7 definitely not", NotCrypt4GH),
        (b"crypt4", TruncatedFile),
        (b"crypt4gh\x01\x00", TruncatedFile),
        (b"crypt4gh\x02\x00\x00\x00\x01\x00\x00\x00", UnsupportedHeader),
        (b"crypt4gh\x01\x00\x00\x00\x00\x00\x00\x00", UnsupportedHeader),
        (b"crypt4gh\x01\x00\x00\x00\x41\x00\x00\x00", UnsupportedHeader),  # 65 packets
        (
            b"crypt4gh\x01\x00\x00\x00\x01\x00\x00\x00\x0a\x00\x00\x00" + bytes(100),
            UnsupportedHeader,
        ),  # packet of 10 bytes
        (b"crypt4gh\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x02\x00" + bytes(100), UnsupportedHeader),  # 128 KiB packet
        (b"crypt4gh\x01\x00\x00\x00\x01\x00\x00\x00\x6c\x00\x00\x00" + bytes(50), TruncatedFile),
        (b"crypt4gh\x01\x00\x00\x00\x02\x00\x00\x00\x6c\x00\x00\x00" + bytes(104), TruncatedFile),
    ],
)
def test_read_header_refuses_what_is_not_a_valid_header(blob, error):
    with pytest.raises(error) as caught:
        read_header(io.BytesIO(blob))
    assert str(caught.value)  # a message for a person


def test_truncated_cli_header_is_reported(archive_key):
    blob = cli_encrypt(b"x" * 10, archive_key)
    for cut in (0, 3, 16, 20, 100, 123):
        with pytest.raises((TruncatedFile, NotCrypt4GH)):
            read_header(io.BytesIO(blob[:cut]))


def test_our_header_with_the_original_body_decrypts_with_the_cli(archive_key, user_key):
    data = payload(150000)
    header, body = split(cli_encrypt(data, archive_key))
    opened = open_header(header, [archive_key.sk])
    new_header = build_header(opened.session_keys, [user_key.pk])
    assert cli_decrypt(new_header + body, user_key) == data


def test_reencrypted_header_and_unchanged_body_give_the_original(archive_key, user_key, other_key):
    data = payload(200000, seed=7)
    header, body = split(cli_encrypt(data, archive_key))
    for_user = reencrypt_header(header, [other_key.sk, archive_key.sk], user_key.pk)
    assert len(for_user) == 124
    assert cli_decrypt(for_user + body, user_key) == data
    with pytest.raises(NotForOurKey):  # sealed only for the user: the archive key no longer opens it
        open_header(for_user, [archive_key.sk, other_key.sk])


def test_multi_recipient_headers_both_ways(archive_key, user_key, other_key):
    data = payload(66000)
    header, body = split(cli_encrypt(data, user_key, archive_key))  # the CLI, two recipients
    assert open_header(header, [archive_key.sk]).session_keys == open_header(header, [user_key.sk]).session_keys
    ours = build_header(open_header(header, [archive_key.sk]).session_keys, [user_key.pk, other_key.pk])
    assert cli_decrypt(ours + body, user_key) == data
    assert cli_decrypt(ours + body, other_key) == data


def test_writer_key_is_verifiable_with_sender_pk(archive_key, user_key):
    data = payload(1000)
    header, body = split(cli_encrypt(data, archive_key))
    signed = build_header(
        open_header(header, [archive_key.sk]).session_keys, [user_key.pk], writer_secret_key=archive_key.sk
    )
    assert cli_decrypt(signed + body, user_key, sender=archive_key) == data


def test_several_data_keys_are_all_returned(archive_key):
    keys = [os.urandom(32), os.urandom(32)]
    header = build_header(keys, [archive_key.pk])
    assert open_header(header, [archive_key.sk]).session_keys == tuple(keys)


def test_edit_list_is_carried_and_never_stacked(archive_key, user_key):
    header = build_header([os.urandom(32)], [archive_key.pk], edit_list=[10, 20])
    opened = open_header(header, [archive_key.sk])
    assert opened.edit_list == (10, 20)
    kept = reencrypt_header(header, [archive_key.sk], user_key.pk)
    assert open_header(kept, [user_key.sk]).edit_list == (10, 20)
    with pytest.raises(UnsupportedHeader, match="already has an edit list"):
        reencrypt_header(header, [archive_key.sk], user_key.pk, edit_list=[0, 5])


def test_two_edit_lists_or_unknown_packets_are_refused(archive_key):
    writer = os.urandom(32)
    data_key = lib_header.make_packet_data_enc(0, os.urandom(32))
    edits = lib_header.make_packet_data_edit_list([1, 2])
    with pytest.raises(UnsupportedHeader, match="more than one edit list"):
        open_header(lib_packets([data_key, edits, edits], writer, archive_key.pk), [archive_key.sk])
    unknown = (7).to_bytes(4, "little") + bytes(12)
    with pytest.raises(UnsupportedHeader, match="unknown type 7"):
        open_header(lib_packets([data_key, unknown], writer, archive_key.pk), [archive_key.sk])
    bad_method = (0).to_bytes(4, "little") + (3).to_bytes(4, "little") + bytes(32)
    with pytest.raises(UnsupportedHeader, match="method 3"):
        open_header(lib_packets([bad_method], writer, archive_key.pk), [archive_key.sk])


def test_packets_for_someone_else_are_skipped(archive_key, user_key):
    """Packets sealed for another reader sit next to ours; only a header with none of ours fails."""
    writer, session_key = os.urandom(32), os.urandom(32)
    payload_ = lib_header.make_packet_data_enc(0, session_key)
    packets = [p for pk in (user_key.pk, archive_key.pk) for p in lib_header.encrypt(payload_, [(0, writer, pk)])]
    header = lib_header.serialize(packets)
    assert open_header(header, [archive_key.sk]).session_keys == (session_key,)


def test_low_order_writer_key_is_not_a_crash(archive_key):
    """A hostile header with a degenerate writer key must read as 'not for us', not a 500."""
    packet = (0).to_bytes(4, "little") + bytes([1] + [0] * 31) + bytes(12 + 40 + 16)
    header = (
        b"crypt4gh"
        + (1).to_bytes(4, "little")
        + (1).to_bytes(4, "little")
        + (len(packet) + 4).to_bytes(4, "little")
        + packet
    )
    with pytest.raises(NotForOurKey):
        open_header(header, [archive_key.sk])


def test_build_header_checks_its_inputs(archive_key):
    from gdi_archive.crypt4gh import InvalidKey

    with pytest.raises(InvalidKey):
        build_header([b"short"], [archive_key.pk])
    with pytest.raises(InvalidKey):
        build_header([os.urandom(32)], [])
    with pytest.raises(InvalidKey):
        build_header([os.urandom(32)], [bytes(32)])
    with pytest.raises(ValueError):
        build_header([os.urandom(32)], [archive_key.pk], edit_list=[-1])


def _packets(header: bytes) -> list[tuple[bytes, bytes]]:
    """(writer public key, nonce) of each packet."""
    from gdi_archive.crypt4gh.header import split_packets

    return [(packet[4:36], packet[36:48]) for packet in split_packets(header)]


def test_a_synthetic_header_is_the_same_bytes_for_the_same_contents_only(archive_key, user_key, other_key):
    """A resumed range must get the same header without anything stored, and a (key, nonce)
    pair must never seal two different plaintexts: the writer key and the nonces follow the
    header's whole contents under the server secret."""
    data = payload(150000, seed=3)
    header, body = split(cli_encrypt(data, archive_key))
    secret = os.urandom(32)
    keys = [archive_key.sk]
    first = reencrypt_header(header, keys, user_key.pk, edit_list=[10, 5000], synthetic_secret=secret)
    assert reencrypt_header(header, keys, user_key.pk, edit_list=[10, 5000], synthetic_secret=secret) == first
    assert cli_decrypt(first + body, user_key) == data[10:5010]
    (data_writer, data_nonce), (edit_writer, edit_nonce) = _packets(first)
    assert data_writer == edit_writer and data_nonce != edit_nonce  # one writer key, a nonce per packet
    others = [
        reencrypt_header(header, keys, user_key.pk, edit_list=[11, 5000], synthetic_secret=secret),  # another range
        reencrypt_header(header, keys, other_key.pk, edit_list=[10, 5000], synthetic_secret=secret),  # another client
        reencrypt_header(header, keys, user_key.pk, edit_list=[10, 5000], synthetic_secret=os.urandom(32)),
        reencrypt_header(header, keys, user_key.pk, edit_list=[10, 5000]),  # random, as before
    ]
    seen = {writer for writer, _ in _packets(first)}
    for other in others:
        writers = {writer for writer, _ in _packets(other)}
        assert not writers & seen, "a writer key was reused for another plaintext, recipient or secret"
        seen |= writers
    # The data key itself is part of the derivation: another file (data key) under the same
    # secret, range and client gets another writer key too.
    another = split(cli_encrypt(data, archive_key))[0]
    assert not {w for w, _ in _packets(reencrypt_header(another, keys, user_key.pk, synthetic_secret=secret))} & seen


def test_a_synthetic_header_needs_a_real_secret_and_no_writer_key(archive_key, user_key):
    from gdi_archive.crypt4gh import InvalidKey

    keys = [os.urandom(32)]
    with pytest.raises(InvalidKey):
        build_header(keys, [user_key.pk], synthetic_secret=b"short")
    with pytest.raises(InvalidKey):
        build_header(keys, [user_key.pk], synthetic_secret=os.urandom(32), writer_secret_key=archive_key.sk)

"""Crypt4GH headers: read exactly the header off a stream, open it, build and re-encrypt it.

The primitives (X25519 key exchange, ChaCha20-IETF-Poly1305) come from the `crypt4gh`
package's libsodium bindings; the packet layout is standards.md C.2-C.5. We do not use
`crypt4gh.header.deconstruct`: it swallows the reason a packet failed and raises ValueError
for everything, and callers here must tell "not ours" from "damaged" from "unsupported".
"""

import hashlib
import hmac
import os
from dataclasses import dataclass

from crypt4gh import sodium
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .errors import InvalidKey, NotCrypt4GH, NotForOurKey, TruncatedFile, UnsupportedHeader
from .keys import KEY_SIZE, _check_public

MAGIC = b"crypt4gh"
VERSION = 1
PREAMBLE_SIZE = 16
MAX_PACKETS = 64
MIN_PACKET_LENGTH = 68  # length prefix + method + writer key + nonce + MAC, empty payload
MAX_PACKET_LENGTH = 64 * 1024
NONCE_SIZE = 12
MAC_SIZE = 16
PACKET_DATA_KEY = 0
PACKET_EDIT_LIST = 1
MAX_EDIT = 2**64 - 1


@dataclass(frozen=True)
class OpenedHeader:
    session_keys: tuple[bytes, ...]
    edit_list: tuple[int, ...] | None
    key_index: int


def read_exact(stream, n: int) -> bytes:
    """Read n bytes, looping over short reads (sockets, HTTP bodies return what they have)."""
    parts, got = [], 0
    while got < n:
        part = stream.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _check_preamble(preamble: bytes) -> int:
    if not preamble or preamble[:8] != MAGIC[: len(preamble[:8])]:
        raise NotCrypt4GH()
    if len(preamble) < PREAMBLE_SIZE:
        raise TruncatedFile()
    version = int.from_bytes(preamble[8:12], "little")
    if version != VERSION:
        raise UnsupportedHeader(f"Crypt4GH version {version} is not supported (only version 1).")
    count = int.from_bytes(preamble[12:16], "little")
    if count == 0:
        raise UnsupportedHeader("The Crypt4GH header has no packets, so it holds no data key.")
    if count > MAX_PACKETS:
        raise UnsupportedHeader(f"The Crypt4GH header has {count} packets; at most {MAX_PACKETS} are accepted.")
    return count


def _check_packet_length(length: int) -> None:
    if length < MIN_PACKET_LENGTH or length > MAX_PACKET_LENGTH:
        raise UnsupportedHeader(
            f"A Crypt4GH header packet claims {length} bytes; packets must be {MIN_PACKET_LENGTH} to {MAX_PACKET_LENGTH} bytes."
        )


def read_header(stream) -> bytes:
    """Read exactly the header (preamble and packets) and leave `stream` at segment 0."""
    preamble = read_exact(stream, PREAMBLE_SIZE)
    count = _check_preamble(preamble)
    parts = [preamble]
    for _ in range(count):
        prefix = read_exact(stream, 4)
        if len(prefix) < 4:
            raise TruncatedFile()
        length = int.from_bytes(prefix, "little")
        _check_packet_length(length)
        rest = read_exact(stream, length - 4)
        if len(rest) < length - 4:
            raise TruncatedFile()
        parts += [prefix, rest]
    return b"".join(parts)


def split_packets(header: bytes) -> list[bytes]:
    """The packets of a complete header, each without its 4-byte length prefix."""
    count = _check_preamble(header[:PREAMBLE_SIZE])
    packets, pos = [], PREAMBLE_SIZE
    for _ in range(count):
        if pos + 4 > len(header):
            raise TruncatedFile()
        length = int.from_bytes(header[pos : pos + 4], "little")
        _check_packet_length(length)
        if pos + length > len(header):
            raise TruncatedFile()
        packets.append(header[pos + 4 : pos + length])
        pos += length
    if pos != len(header):
        raise UnsupportedHeader("There are stray bytes after the Crypt4GH header packets.")
    return packets


def _decrypt_packet(packet: bytes, sk: bytes, pk: bytes) -> bytes | None:
    """The payload if this packet was sealed for `sk`, else None (meant for someone else)."""
    if int.from_bytes(packet[:4], "little") != 0:
        return None  # another header encryption method: not for an X25519 key
    writer_pk, sealed = packet[4:36], packet[36:]
    try:
        shared = sodium.kx_client(pk, sk, writer_pk)
        payload = bytearray(len(sealed))
        size = sodium.chacha20poly1305_decrypt(payload, sealed, shared)
    except (ValueError, AssertionError, SystemError):  # SystemError: low-order writer key
        return None
    return bytes(payload[:size])


def _parse_payloads(payloads: list[bytes]) -> tuple[list[bytes], tuple[int, ...] | None]:
    session_keys, edit_list = [], None
    for payload in payloads:
        if len(payload) < 4:
            raise UnsupportedHeader("A Crypt4GH header packet is too short to hold its type.")
        kind = int.from_bytes(payload[:4], "little")
        if kind == PACKET_DATA_KEY:
            if len(payload) < 8 + KEY_SIZE:
                raise UnsupportedHeader("A Crypt4GH data-key packet is too short.")
            method = int.from_bytes(payload[4:8], "little")
            if method != 0:
                raise UnsupportedHeader(
                    f"Data encryption method {method} is not supported (only ChaCha20-IETF-Poly1305)."
                )
            session_keys.append(bytes(payload[8 : 8 + KEY_SIZE]))
        elif kind == PACKET_EDIT_LIST:
            if edit_list is not None:
                raise UnsupportedHeader("The Crypt4GH header has more than one edit list.")
            if len(payload) < 8:
                raise UnsupportedHeader("The Crypt4GH edit list packet is too short.")
            n = int.from_bytes(payload[4:8], "little")
            if len(payload) < 8 + 8 * n:
                raise UnsupportedHeader("The Crypt4GH edit list is shorter than it claims.")
            edit_list = tuple(int.from_bytes(payload[8 + 8 * i : 16 + 8 * i], "little") for i in range(n))
        else:
            raise UnsupportedHeader(f"The Crypt4GH header has a packet of unknown type {kind}.")
    return session_keys, edit_list


# The public keys of the few secret keys that open headers here (the archive's), by the sha256 of
# the secret key, never the key itself: one X25519 multiplication less for every download.
_PUBLIC_OF: dict[bytes, bytes] = {}
_PUBLIC_OF_MAX = 64


def _public_of(sk: bytes) -> bytes:
    digest = hashlib.sha256(sk).digest()
    pk = _PUBLIC_OF.get(digest)
    if pk is None:
        pk = sodium.derive_pk(sk)
        if len(_PUBLIC_OF) < _PUBLIC_OF_MAX:
            _PUBLIC_OF[digest] = pk
    return pk


def open_header(header: bytes, secret_keys: list[bytes]) -> OpenedHeader:
    """Decrypt the packets meant for the first of `secret_keys` that holds a data key."""
    packets = split_packets(header)
    for index, sk in enumerate(secret_keys):
        if len(sk) != KEY_SIZE:
            raise InvalidKey("A secret key is 32 bytes.")
        pk = _public_of(bytes(sk))
        payloads = [p for p in (_decrypt_packet(packet, sk, pk) for packet in packets) if p is not None]
        if not payloads:
            continue
        session_keys, edit_list = _parse_payloads(payloads)
        if session_keys:
            return OpenedHeader(session_keys=tuple(session_keys), edit_list=edit_list, key_index=index)
    raise NotForOurKey()


def _seal_packet(payload: bytes, writer_sk: bytes, writer_pk: bytes, recipient_pk: bytes, nonce=None) -> bytes:
    shared = sodium.kx_server(writer_pk, writer_sk, recipient_pk)
    if nonce is None:
        sealed = bytearray(len(payload) + NONCE_SIZE + MAC_SIZE)
        size = sodium.chacha20poly1305_encrypt(sealed, payload, shared)  # fresh random nonce inside
        sealed = bytes(sealed[:size])
    else:
        sealed = nonce + ChaCha20Poly1305(bytes(shared)).encrypt(nonce, payload, None)
    body = (0).to_bytes(4, "little") + writer_pk + sealed
    return (len(body) + 4).to_bytes(4, "little") + body


def _synthetic(secret: bytes, payloads: list[bytes], recipients: list[bytes]):
    """(writer secret key, nonce for packet n) derived from everything the header will hold.

    As in SIV: the writer key and the nonces are an HMAC, under a server secret, of the whole
    plaintext of the header (data keys, edit list) and its recipients. The same inputs give the
    same bytes (so a resumed range continues the same stream with nothing stored); any other
    plaintext or recipient gives another writer key, so a (shared key, nonce) pair is never used
    for two different plaintexts. The data keys are part of the input: knowing the server secret
    alone does not give the writer key, and the header reveals nothing beyond "same request"."""
    mac = hmac.new(secret, b"gdi-archive crypt4gh synthetic header v1", hashlib.sha256)
    for part in (*payloads, b"", *recipients):
        mac.update(len(part).to_bytes(4, "little") + part)
    material = mac.digest()

    def derive(label: bytes) -> bytes:
        return hmac.new(material, label, hashlib.sha256).digest()

    return derive(b"writer")[:KEY_SIZE], lambda n: derive(b"nonce" + n.to_bytes(4, "little"))[:NONCE_SIZE]


def _edit_list_payload(edit_list) -> bytes:
    lengths = tuple(edit_list)
    if any(not isinstance(n, int) or n < 0 or n > MAX_EDIT for n in lengths):
        raise ValueError("Edit list lengths must be integers between 0 and 2**64-1.")
    if 8 + 8 * len(lengths) + MIN_PACKET_LENGTH > MAX_PACKET_LENGTH:
        raise UnsupportedHeader("The edit list is too long for one header packet.")
    return (
        PACKET_EDIT_LIST.to_bytes(4, "little")
        + len(lengths).to_bytes(4, "little")
        + b"".join(n.to_bytes(8, "little") for n in lengths)
    )


def build_header(
    session_keys,
    recipient_public_keys: list[bytes],
    *,
    edit_list=None,
    writer_secret_key: bytes | None = None,
    synthetic_secret: bytes | None = None,
) -> bytes:
    """A fresh header: each session key and the optional edit list sealed for each recipient.

    Without `writer_secret_key` a throw-away writer key is made, as `crypt4gh encrypt` does.
    With `synthetic_secret` (a server secret of at least 32 bytes) the writer key and the
    nonces are derived from it and the header's contents (`_synthetic`): the same bytes for
    the same data keys, edit list and recipients, every time.
    """
    session_keys = [bytes(k) for k in session_keys]
    if not session_keys or any(len(k) != KEY_SIZE for k in session_keys):
        raise InvalidKey("At least one 32-byte data key is needed.")
    recipients = [_check_public(bytes(pk)) for pk in recipient_public_keys]
    if not recipients:
        raise InvalidKey("At least one recipient public key is needed.")
    payloads = [PACKET_DATA_KEY.to_bytes(4, "little") + (0).to_bytes(4, "little") + k for k in session_keys]
    if edit_list is not None:
        payloads.append(_edit_list_payload(edit_list))
    nonce = None
    if synthetic_secret is not None:
        if writer_secret_key is not None or len(synthetic_secret) < 32:
            raise InvalidKey("A synthetic header needs a secret of 32 bytes or more, and no writer key.")
        writer_secret_key, nonce = _synthetic(bytes(synthetic_secret), payloads, recipients)
    writer_sk = bytes(writer_secret_key) if writer_secret_key is not None else os.urandom(KEY_SIZE)
    if len(writer_sk) != KEY_SIZE:
        raise InvalidKey("The writer secret key is 32 bytes.")
    writer_pk = sodium.derive_pk(writer_sk)
    pairs = [(pk, p) for pk in recipients for p in payloads]
    packets = [
        _seal_packet(p, writer_sk, writer_pk, pk, nonce=nonce(n) if nonce else None) for n, (pk, p) in enumerate(pairs)
    ]
    if len(packets) > MAX_PACKETS:
        raise UnsupportedHeader(f"That would make {len(packets)} header packets; at most {MAX_PACKETS} are allowed.")
    return MAGIC + VERSION.to_bytes(4, "little") + len(packets).to_bytes(4, "little") + b"".join(packets)


def reencrypt_header(
    header: bytes, secret_keys: list[bytes], recipient_public_key: bytes, *, edit_list=None, synthetic_secret=None
) -> bytes:
    """Open the stored header with our keys and seal its data keys for one recipient.

    The stored edit list is kept unless a new one is given; a stored edit list cannot be
    combined with a new one (offsets would refer to different streams). `synthetic_secret`:
    see `build_header`.
    """
    return reseal_header(
        open_header(header, secret_keys), recipient_public_key, edit_list=edit_list, synthetic_secret=synthetic_secret
    )


def reseal_header(opened: OpenedHeader, recipient_public_key: bytes, *, edit_list=None, synthetic_secret=None) -> bytes:
    """`reencrypt_header` of a header already opened (`open_header`), for a caller that needs
    its data keys more than once."""
    if edit_list is not None and opened.edit_list is not None:
        raise UnsupportedHeader("This file already has an edit list, so byte ranges cannot be cut from it.")
    new_edits = edit_list if edit_list is not None else opened.edit_list
    return build_header(
        opened.session_keys, [recipient_public_key], edit_list=new_edits, synthetic_secret=synthetic_secret
    )


def header_length(session_key_count: int = 1, recipients: int = 1, edit_list_length: int | None = None) -> int:
    """Size of a header `build_header` makes, for Content-Length before building it."""
    per_recipient = session_key_count * (MIN_PACKET_LENGTH + 40)
    if edit_list_length is not None:
        per_recipient += MIN_PACKET_LENGTH + 8 + 8 * edit_list_length
    return PREAMBLE_SIZE + recipients * per_recipient

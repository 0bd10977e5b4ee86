"""Key files and pasted public keys, checked against the `crypt4gh` tool and library."""

import base64
import hashlib
import stat

import pytest
from crypt4gh.keys import get_public_key
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gdi_archive.crypt4gh import (
    InvalidKey,
    format_public_key,
    generate_keypair,
    key_id,
    load_secret_key,
    parse_public_key,
    public_from_secret,
)

from .tools import KeyPair, cli_decrypt, cli_encrypt, payload

LOW_ORDER_POINTS = [
    bytes([1] + [0] * 31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
]


def test_generated_key_pair_is_protected_and_works_with_the_cli(tmp_path):
    sk_path, pk_path = tmp_path / "k.sec", tmp_path / "k.pub"
    pk = generate_keypair(sk_path, pk_path, "s3cret phrase", comment="test")
    assert stat.S_IMODE(sk_path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in sk_path.read_bytes() and pk_path.read_text() == format_public_key(pk)
    sk = load_secret_key(sk_path, "s3cret phrase")
    assert len(sk) == 32 and public_from_secret(sk) == pk
    assert get_public_key(pk_path) == pk  # the library reads our public key file
    me = KeyPair(sk_path, pk_path, sk, pk, "s3cret phrase")
    data = payload(70000)
    assert cli_decrypt(cli_encrypt(data, me), me) == data  # ...and our passphrase-protected secret key


def test_generate_refuses_to_overwrite_a_secret_key(tmp_path):
    generate_keypair(tmp_path / "k.sec", tmp_path / "k.pub", "pw")
    before = (tmp_path / "k.sec").read_bytes()
    with pytest.raises(FileExistsError):
        generate_keypair(tmp_path / "k.sec", tmp_path / "k2.pub", "pw")
    assert (tmp_path / "k.sec").read_bytes() == before


def test_generate_requires_a_passphrase(tmp_path):
    with pytest.raises(InvalidKey):
        generate_keypair(tmp_path / "k.sec", tmp_path / "k.pub", "")
    assert not (tmp_path / "k.sec").exists()


def test_load_refuses_a_wrong_or_missing_passphrase(archive_key):
    with pytest.raises(InvalidKey, match="Wrong passphrase"):
        load_secret_key(archive_key.secret_path, "not it")
    with pytest.raises(InvalidKey, match="passphrase"):
        load_secret_key(archive_key.secret_path, None)


def test_load_reads_an_unencrypted_key_made_by_crypt4gh_keygen(user_key):
    assert public_from_secret(load_secret_key(user_key.secret_path, None)) == get_public_key(user_key.public_path)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage",
        b"\xff\xfe\x00binary",
        b"-----BEGIN CRYPT4GH PRIVATE KEY-----\n!!!notbase64\n-----END CRYPT4GH PRIVATE KEY-----\n",
        b"-----BEGIN CRYPT4GH PRIVATE KEY-----\n"
        + base64.b64encode(b"c4gh-v1\x00")
        + b"\n-----END CRYPT4GH PRIVATE KEY-----\n",
        b"-----BEGIN CRYPT4GH PRIVATE KEY-----\n"
        + base64.b64encode(b"other-magic-bytes")
        + b"\n-----END CRYPT4GH PRIVATE KEY-----\n",
    ],
)
def test_load_refuses_garbage(tmp_path, content):
    path = tmp_path / "bad.sec"
    path.write_bytes(content)
    with pytest.raises(InvalidKey):
        load_secret_key(path, "pw")


def test_public_key_forms_all_give_the_same_key(user_key):
    pem = user_key.public_path.read_text()
    raw = user_key.pk
    forms = [
        pem,
        pem.encode(),
        "\n\n  " + pem.replace("\n", "\r\n") + "  \n",
        base64.b64encode(pem.encode()).decode(),
        base64.b64encode(raw).decode(),
        raw,
    ]
    for form in forms:
        assert parse_public_key(form) == raw == get_public_key(user_key.public_path)


def test_ssh_ed25519_line_is_converted_like_the_library_does(tmp_path):
    line = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
        + " someone@example.org"
    )
    path = tmp_path / "id.pub"
    path.write_text(line + "\n")
    converted = parse_public_key(line)
    assert converted == get_public_key(path)
    assert parse_public_key(base64.b64encode(line.encode()).decode()) == converted


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "empty"),
        ("hello world", "not recognised"),
        (base64.b64encode(b"x" * 31).decode(), "32 bytes"),
        (base64.b64encode(b"x" * 33).decode(), "32 bytes"),
        (base64.b64encode(bytes(32)).decode(), "all zeros"),
        ("-----BEGIN CRYPT4GH PUBLIC KEY-----\nnot base64!\n-----END CRYPT4GH PUBLIC KEY-----\n", "base64"),
        (
            "-----BEGIN CRYPT4GH PUBLIC KEY-----\n"
            + base64.b64encode(b"x" * 16).decode()
            + "\n-----END CRYPT4GH PUBLIC KEY-----",
            "32 bytes",
        ),
        ("-----BEGIN CRYPT4GH PRIVATE KEY-----\nAAAA\n-----END CRYPT4GH PRIVATE KEY-----\n", "secret"),
        ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ user@host", "ssh-ed25519"),
        ("ssh-ed25519 AAAA", "ssh-ed25519"),
        ("x" * 20000, "too long"),
    ],
)
def test_unusable_public_keys_are_refused_with_a_reason(value, message):
    with pytest.raises(InvalidKey, match=message):
        parse_public_key(value)


@pytest.mark.parametrize("point", LOW_ORDER_POINTS)
def test_low_order_points_are_refused(point):
    with pytest.raises(InvalidKey, match="low-order"):
        parse_public_key(base64.b64encode(point).decode())


def test_format_and_key_id(user_key):
    text = format_public_key(user_key.pk)
    assert text == user_key.public_path.read_text()  # byte-identical to crypt4gh-keygen's file
    assert parse_public_key(text) == user_key.pk
    assert key_id(user_key.pk) == hashlib.sha256(user_key.pk).hexdigest()
    with pytest.raises(InvalidKey):
        format_public_key(b"short")


def test_missing_secret_key_file_is_an_invalid_key(tmp_path):
    with pytest.raises(InvalidKey, match="cannot be read"):
        load_secret_key(tmp_path / "nope.sec", "pw")

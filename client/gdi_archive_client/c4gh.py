"""Crypt4GH through the `crypt4gh` package's public API: keys, whole-stream encrypt and decrypt.

Decryption always reads a whole stream (header + body) from the start: `crypt4gh.lib.decrypt`
with an offset is wrong past 64 KiB (crypt4gh 1.8.6), but whole streams, with or without an edit
list, decrypt correctly.
"""

import base64
import getpass
import hashlib
import io
import os
from pathlib import Path

from crypt4gh import lib
from crypt4gh.keys import c4gh, get_private_key, get_public_key

from .api import ClientError

MAGIC = b"crypt4gh"


def passphrase_callback(prompt: str = "Passphrase for your Crypt4GH key: "):
    def callback():
        value = os.environ.get("C4GH_PASSPHRASE")
        return value if value is not None else getpass.getpass(prompt)

    return callback


def load_secret_key(path: str) -> bytes:
    try:
        return get_private_key(os.path.expanduser(path), passphrase_callback())
    except FileNotFoundError:
        raise ClientError(f"No key file at {path}") from None
    except Exception as exc:  # crypt4gh raises plain ValueError/AssertionError on a bad passphrase
        raise ClientError(
            f"Cannot open the key {path}: wrong passphrase or not a Crypt4GH/ssh-ed25519 key ({exc.__class__.__name__})"
        ) from None


def load_public_key(path: str) -> bytes:
    try:
        return get_public_key(os.path.expanduser(path))
    except FileNotFoundError:
        raise ClientError(f"No key file at {path}") from None
    except Exception:
        raise ClientError(f"{path} is not a Crypt4GH public key") from None


def public_key_from_text(text: str) -> bytes:
    lines = [line for line in text.strip().splitlines() if line and not line.startswith("-----")]
    raw = base64.b64decode("".join(lines))
    if len(raw) != 32:
        raise ClientError("The archive's public key is not a Crypt4GH key")
    return raw


def derive_public_key(secret: bytes) -> bytes:
    """The public half of an X25519 key (what crypt4gh itself does when it writes a key pair)."""
    try:
        from crypt4gh.sodium import derive_pk  # crypt4gh >= 1.8

        return derive_pk(secret)
    except ImportError:  # crypt4gh 1.7 used PyNaCl
        from nacl.public import PrivateKey

        return bytes(PrivateKey(secret).public_key)


def key_for_sk(sk_path: str, pk_path: str | None) -> tuple[bytes, bytes]:
    """(secret, public) for --sk, taking the public half from --pk, `<sk>.pub`, or the secret."""
    secret = load_secret_key(sk_path)
    if pk_path:
        public = load_public_key(pk_path)
    else:
        public = derive_public_key(secret)
    return secret, public


def header_value(public: bytes) -> str:
    """The form X-C4GH-Public-Key takes: base64 of the raw 32 bytes."""
    return base64.b64encode(public).decode()


def generate(sk_path: str, pk_path: str, passphrase: str, comment: str = "gdi-archive") -> None:
    for path in (sk_path, pk_path):
        if Path(path).exists():
            raise ClientError(f"{path} exists already; not overwriting a key")
    c4gh.generate(
        os.path.expanduser(sk_path),
        os.path.expanduser(pk_path),
        passphrase=passphrase.encode(),
        comment=comment.encode(),
    )


class HashingWriter(io.RawIOBase):
    """Hashes (and counts) what passes; writes it on to `target` when there is one."""

    def __init__(self, target=None):
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.sha256.update(data)
        self.size += len(data)
        if self.target is not None:
            self.target.write(data)
        return len(data)


def decrypt_stream(secret: bytes, infile, target=None) -> HashingWriter:
    """Decrypts a whole Crypt4GH stream; returns the plaintext's sha256 and size."""
    out = HashingWriter(target)
    try:
        lib.decrypt([(0, secret, None)], infile, out)
    except Exception as exc:
        raise ClientError(
            f"Decryption failed ({exc.__class__.__name__}: {exc}); is this file encrypted to your key?"
        ) from None
    return out


def encrypt_stream(recipient: bytes, infile, outfile) -> None:
    """Encrypts to the recipient with a throw-away sender key (as `crypt4gh encrypt` does without --sk)."""
    lib.encrypt([(0, os.urandom(32), recipient)], infile, outfile)


def is_crypt4gh(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8) == MAGIC

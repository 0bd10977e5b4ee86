"""Crypt4GH key files: generate, load, parse what users paste, format, identify.

Keys are raw 32-byte X25519 values everywhere in our code; files and pasted text are
converted at the edges, here. Uses the `crypt4gh` package's libsodium bindings and key-file
encoding so that our key files are the ones the `crypt4gh` tool reads and writes.
"""

import base64
import binascii
import functools
import hashlib
import io
import os
from pathlib import Path

from crypt4gh import sodium
from crypt4gh.keys import c4gh
from crypt4gh.keys.kdf import KDFS, derive_key
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .errors import InvalidKey

KEY_SIZE = 32
PUBLIC_BEGIN = "-----BEGIN CRYPT4GH PUBLIC KEY-----"
PUBLIC_END = "-----END CRYPT4GH PUBLIC KEY-----"
PRIVATE_BEGIN = "-----BEGIN CRYPT4GH PRIVATE KEY-----"
PRIVATE_END = "-----END CRYPT4GH PRIVATE KEY-----"
MAX_KEY_TEXT = 16 * 1024  # a public key is ~120 characters; refuse to parse megabytes


def generate_keypair(secret_path, public_path, passphrase: str, comment: str = "gdi-archive") -> bytes:
    """Write a passphrase-protected secret key file (mode 0600) and its public key file.

    Refuses to overwrite an existing secret key (FileExistsError): losing the archive key
    loses every file encrypted to it. Returns the public key.
    """
    if not passphrase:
        raise InvalidKey("A passphrase is required to protect the secret key.")
    secret_path, public_path = Path(secret_path), Path(public_path)
    sk = os.urandom(KEY_SIZE)
    pk = sodium.derive_pk(sk)
    encoded = c4gh.encode_private_key(sk, passphrase.encode(), comment.encode() if comment else None)
    text = f"{PRIVATE_BEGIN}\n{base64.b64encode(encoded).decode()}\n{PRIVATE_END}\n".encode()
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        secret_path.unlink(missing_ok=True)
        raise
    os.chmod(secret_path, 0o600)  # in case the umask removed more than we asked
    tmp = public_path.with_name(public_path.name + ".tmp")
    tmp.write_text(format_public_key(pk))
    os.replace(tmp, public_path)
    return pk


def _decode_string(stream: io.BytesIO, width: int = 2) -> bytes:
    """A key-file string: big-endian length (2 bytes in Crypt4GH keys, 4 in SSH) + bytes."""
    raw_len = stream.read(width)
    if len(raw_len) != width:
        raise InvalidKey("The secret key file is damaged (it ends too early).")
    length = int.from_bytes(raw_len, "big")
    data = stream.read(length)
    if len(data) != length:
        raise InvalidKey("The secret key file is damaged (it ends too early).")
    return data


def _pem_body(text: str, begin: str, end: str) -> bytes:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 3 or lines[0] != begin or lines[-1] != end:
        raise InvalidKey(f"The key must be enclosed in '{begin}' and '{end}' lines.")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey("The key is not valid base64.") from None


def load_secret_key(path, passphrase: str | None) -> bytes:
    """Read a Crypt4GH secret key file and return the raw 32-byte X25519 key.

    We parse the file ourselves instead of calling `crypt4gh.keys.get_private_key`, which
    calls `sys.exit` on a wrong passphrase.
    """
    try:
        text = Path(path).read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise InvalidKey("The secret key file is not a Crypt4GH key file.") from None
    except OSError as exc:
        raise InvalidKey(
            f"The secret key file {path} cannot be read ({exc.strerror or exc.__class__.__name__})."
        ) from None
    data = _pem_body(text, PRIVATE_BEGIN, PRIVATE_END)
    stream = io.BytesIO(data)
    if stream.read(len(c4gh.MAGIC_WORD)) != c4gh.MAGIC_WORD:
        raise InvalidKey("The secret key file is not a Crypt4GH (c4gh-v1) key.")
    kdfname = _decode_string(stream)
    if kdfname != b"none" and kdfname not in KDFS:
        raise InvalidKey(f"The secret key uses an unsupported key derivation ({kdfname.decode(errors='replace')}).")
    rounds = salt = None
    if kdfname != b"none":
        options = _decode_string(stream)
        if len(options) < 5:
            raise InvalidKey("The secret key file is damaged (bad key-derivation options).")
        rounds, salt = int.from_bytes(options[:4], "big"), options[4:]
    ciphername = _decode_string(stream)
    blob = _decode_string(stream)
    if ciphername == b"none":
        if kdfname != b"none" or len(blob) != KEY_SIZE:
            raise InvalidKey("The secret key file is damaged.")
        sk = blob
    elif ciphername == b"chacha20_poly1305":
        if kdfname == b"none" or len(blob) != 12 + KEY_SIZE + 16:
            raise InvalidKey("The secret key file is damaged.")
        if not passphrase:
            raise InvalidKey("The secret key is protected by a passphrase, and none was given.")
        try:
            derived = derive_key(kdfname, passphrase.encode(), salt, rounds)
            sk = ChaCha20Poly1305(derived).decrypt(blob[:12], blob[12:], None)
        except InvalidTag:
            raise InvalidKey("Wrong passphrase for the secret key.") from None
    else:
        raise InvalidKey("The secret key uses an unsupported cipher.")
    return bytes(sk)


def public_from_secret(sk: bytes) -> bytes:
    if not isinstance(sk, (bytes, bytearray)) or len(sk) != KEY_SIZE:
        raise InvalidKey("A secret key is 32 bytes.")
    return sodium.derive_pk(bytes(sk))


def _check_public(pk: bytes) -> bytes:
    pk = bytes(pk)
    if len(pk) != KEY_SIZE:
        raise InvalidKey(f"A Crypt4GH public key is 32 bytes; this one is {len(pk)} bytes.")
    if not any(pk):
        raise InvalidKey("The public key is all zeros; it is not a usable key.")
    if not _usable_point(pk):
        raise InvalidKey("The public key is a weak (low-order) point; it is not a usable key.")
    return pk


@functools.lru_cache(maxsize=4096)
def _usable_point(pk: bytes) -> bool:
    """A key exchange with a low-order point gives all zeros (anyone could "decrypt" for it);
    OpenSSL refuses such an exchange. (crypt4gh's sodium.kx_* raise SystemError here.) Two
    scalar multiplications, a few per cent of a download ticket, and every ticket checks the
    client's key twice: the answer depends on the 32 bytes only, so it is kept per key."""
    try:
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(pk))
    except ValueError:
        return False
    return True


def _ssh_ed25519(line: str) -> bytes:
    parts = line.split()
    if len(parts) < 2:
        raise InvalidKey("The ssh-ed25519 line has no key.")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey("The ssh-ed25519 key is not valid base64.") from None
    stream = io.BytesIO(blob)
    try:
        key_type = _decode_string(stream, 4)
        ed_pk = _decode_string(stream, 4)
    except InvalidKey:
        raise InvalidKey("The ssh-ed25519 key is damaged.") from None
    if key_type != b"ssh-ed25519" or len(ed_pk) != KEY_SIZE:
        raise InvalidKey("The ssh-ed25519 key is damaged.")
    try:
        return sodium.sign_ed25519_pk_to_curve25519(ed_pk)
    except (ValueError, RuntimeError, SystemError):
        raise InvalidKey("The ssh-ed25519 key is not a valid Ed25519 point.") from None


def parse_public_key(value: str | bytes) -> bytes:
    """Turn what a user or client sends into a raw 32-byte public key.

    Accepted: the Crypt4GH public key file text, base64 of that text (as in HTTP headers),
    base64 of the raw 32 bytes, an `ssh-ed25519 AAAA...` line, or the raw 32 bytes themselves.
    """
    if isinstance(value, (bytes, bytearray)):
        if len(value) == KEY_SIZE:
            return _check_public(bytes(value))
        try:
            value = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            raise InvalidKey("The public key is neither text nor 32 raw bytes.") from None
    if not isinstance(value, str):
        raise InvalidKey("The public key must be text.")
    if len(value) > MAX_KEY_TEXT:
        raise InvalidKey("The public key is far too long to be a Crypt4GH key.")
    text = value.strip()
    if not text:
        raise InvalidKey("The public key is empty.")
    if "PRIVATE KEY" in text:
        raise InvalidKey("This is a secret (private) key. Never share it; send the public key instead.")
    if text.startswith("-----BEGIN"):
        return _check_public(_pem_body(text, PUBLIC_BEGIN, PUBLIC_END))
    if text.startswith("ssh-ed25519"):
        return _check_public(_ssh_ed25519(text))
    if text.startswith("ssh-") or text.startswith("ecdsa-"):
        raise InvalidKey("Only ssh-ed25519 SSH keys can be used with Crypt4GH.")
    try:
        decoded = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey(
            "The public key is not recognised: send the Crypt4GH public key file, base64 of it, or an ssh-ed25519 line."
        ) from None
    if decoded.lstrip().startswith(b"-----BEGIN"):
        try:
            inner = decoded.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidKey("The base64 public key does not contain key text.") from None
        if "PRIVATE KEY" in inner:
            raise InvalidKey("This is a secret (private) key. Never share it; send the public key instead.")
        return _check_public(_pem_body(inner, PUBLIC_BEGIN, PUBLIC_END))
    if decoded.startswith(b"ssh-ed25519"):
        return _check_public(_ssh_ed25519(decoded.decode("ascii", errors="replace")))
    return _check_public(decoded)


def format_public_key(pk: bytes) -> str:
    """The Crypt4GH public key file text, as `crypt4gh-keygen` writes it."""
    if len(pk) != KEY_SIZE:
        raise InvalidKey("A Crypt4GH public key is 32 bytes.")
    return f"{PUBLIC_BEGIN}\n{base64.b64encode(pk).decode()}\n{PUBLIC_END}\n"


def key_id(pk: bytes) -> str:
    """A stable, shareable identifier: hex SHA-256 of the raw public key."""
    return hashlib.sha256(bytes(pk)).hexdigest()

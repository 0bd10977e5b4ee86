"""The real `crypt4gh` command-line tool as the reference implementation, and test keys."""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gdi_archive.crypt4gh import load_secret_key
from gdi_archive.crypt4gh.keys import parse_public_key

BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
CLI = str(BIN / "crypt4gh")
KEYGEN = str(BIN / "crypt4gh-keygen")
PASSPHRASE = "archive key passphrase"


@dataclass
class KeyPair:
    secret_path: Path
    public_path: Path
    sk: bytes
    pk: bytes
    passphrase: str | None


def _env(passphrase: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("C4GH_")}
    if passphrase:
        env["C4GH_PASSPHRASE"] = passphrase
    return env


def cli(
    *args: str, data: bytes = b"", passphrase: str | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    result = subprocess.run([CLI, *args], input=data, capture_output=True, env=_env(passphrase), timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"crypt4gh {' '.join(args)} failed: {result.stderr.decode(errors='replace')[-2000:]}")
    return result


def cli_encrypt(data: bytes, *recipients: KeyPair, writer: KeyPair | None = None) -> bytes:
    args = ["encrypt"]
    for recipient in recipients:
        args += ["--recipient_pk", str(recipient.public_path)]
    if writer:
        args += ["--sk", str(writer.secret_path)]
    return cli(*args, data=data, passphrase=writer.passphrase if writer else None).stdout


def cli_decrypt(blob: bytes, reader: KeyPair, *, sender: KeyPair | None = None) -> bytes:
    args = ["decrypt", "--sk", str(reader.secret_path)]
    if sender:
        args += ["--sender_pk", str(sender.public_path)]
    return cli(*args, data=blob, passphrase=reader.passphrase).stdout


def cli_keypair(folder: Path, name: str) -> KeyPair:
    sk_path, pk_path = folder / f"{name}.sec", folder / f"{name}.pub"
    subprocess.run(
        [KEYGEN, "--sk", str(sk_path), "--pk", str(pk_path), "--nocrypt", "-C", name],
        check=True,
        capture_output=True,
        env=_env(None),
        timeout=60,
    )
    return KeyPair(sk_path, pk_path, load_secret_key(sk_path, None), parse_public_key(pk_path.read_text()), None)


def payload(size: int, seed: int = 1) -> bytes:
    """Deterministic, non-repeating bytes (so a shifted range cannot match by accident)."""
    import random

    return random.Random(seed).randbytes(size)

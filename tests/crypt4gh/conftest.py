"""Session keys for the Crypt4GH tests: one made by our code, two by `crypt4gh-keygen`."""

import pytest

from gdi_archive.crypt4gh import generate_keypair, load_secret_key

from .tools import PASSPHRASE, KeyPair, cli_keypair


@pytest.fixture(scope="session")
def key_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("c4gh-keys")


@pytest.fixture(scope="session")
def archive_key(key_folder) -> KeyPair:
    """Made by our own generate_keypair (passphrase-protected), read back by the CLI in tests."""
    sk_path, pk_path = key_folder / "archive.sec", key_folder / "archive.pub"
    pk = generate_keypair(sk_path, pk_path, PASSPHRASE)
    return KeyPair(sk_path, pk_path, load_secret_key(sk_path, PASSPHRASE), pk, PASSPHRASE)


@pytest.fixture(scope="session")
def user_key(key_folder) -> KeyPair:
    return cli_keypair(key_folder, "user")


@pytest.fixture(scope="session")
def other_key(key_folder) -> KeyPair:
    return cli_keypair(key_folder, "other")

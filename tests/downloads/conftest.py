"""Download fixtures: files stored encrypted as ingestion leaves them, client keys, clients."""

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from crypt4gh import lib as c4gh_lib
from django.utils import timezone
from rest_framework.test import APIClient

from gdi_archive.catalogue.models import Dataset, File
from gdi_archive.passports.grants import Grants

REPO = Path(__file__).resolve().parents[2]
CRYPT4GH = str(REPO / ".venv" / "bin" / "crypt4gh")
KEYGEN = str(REPO / ".venv" / "bin" / "crypt4gh-keygen")


class ClientKeyPair:
    """A user's Crypt4GH key pair made by the real crypt4gh-keygen."""

    def __init__(self, folder: Path, name: str = "client"):
        self.sk_path = folder / f"{name}.sec"
        self.pk_path = folder / f"{name}.pub"
        subprocess.run(
            [KEYGEN, "--sk", str(self.sk_path), "--pk", str(self.pk_path), "--nocrypt", "-f"],
            check=True,
            capture_output=True,
            input=b"",
        )
        self.pem = self.pk_path.read_text()

    @property
    def header_value(self) -> str:
        """What a client sends in X-C4GH-Public-Key: base64 of the key file."""
        import base64

        return base64.b64encode(self.pem.encode()).decode()

    @property
    def raw(self) -> bytes:
        from gdi_archive.crypt4gh.keys import parse_public_key

        return parse_public_key(self.pem)

    def decrypt(self, data: bytes) -> bytes:
        """Decrypt with the crypt4gh command-line tool, as a user would."""
        result = subprocess.run(
            [CRYPT4GH, "decrypt", "--sk", str(self.sk_path)],
            input=data,
            capture_output=True,
            env={**os.environ, "C4GH_PASSPHRASE": ""},
        )
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout


def store_ready_file(*, submitter, path: Path, name: str | None = None, fmt=None, index_of=None) -> File:
    """Encrypt `path` to the archive key with the crypt4gh library and run the real ingest on it.

    An index named `<data file>.bai` (etc.) is linked to its data file by ingest itself.
    """
    from gdi_archive.ingest.services import ingest_local_file
    from gdi_archive.keyring.archive import current_public_key

    name = name or Path(path).name
    encrypted = Path(path).with_name(Path(path).name + ".c4gh")
    with open(path, "rb") as source, open(encrypted, "wb") as target:
        c4gh_lib.encrypt([(0, os.urandom(32), current_public_key())], source, target)
    file = ingest_local_file(path=encrypted, submitter=submitter, name=f"{name}.c4gh")
    encrypted.unlink()
    assert file.status == File.Status.READY, file.error
    if fmt is not None:
        assert file.format == fmt, (file.format, fmt)
    if index_of is not None:
        assert file.index_of_id == index_of.pk
    return file


def release(*, dac, steward, files: list[File], title="Rare disease genomes") -> Dataset:
    dataset = Dataset.objects.create(title=title, dac=dac, status=Dataset.Status.RELEASED, released_at=timezone.now())
    dataset.files.add(*files)
    return dataset


def token_client(user, datasets) -> APIClient:
    """A client authenticated as the passports app does for a bearer token granting `datasets`."""
    client = APIClient()
    grants = Grants(
        subject=user.username, issuer="http://testserver", datasets=frozenset(d.accession for d in datasets)
    )
    client.force_authenticate(user=user, token=grants)
    return client


def entitle(user, dataset, *, days: int = 30):
    from gdi_archive.access.models import Entitlement

    # Started a minute ago: passport tokens are minted with whole-second times.
    now = timezone.now()
    return Entitlement.objects.create(
        user=user, dataset=dataset, start=now - timedelta(minutes=1), end=now + timedelta(days=days)
    )


@pytest.fixture
def client_keys(tmp_path):
    return ClientKeyPair(tmp_path)


@pytest.fixture
def plain_file(tmp_path):
    """200 KiB + 123 bytes of random data: four segments, the last one short."""
    path = tmp_path / "reads.bin"
    path.write_bytes(os.urandom(3 * 65536 + 7000 + 123))
    return path


@pytest.fixture
def stored(db, steward, dac, plain_file):
    file = store_ready_file(submitter=steward, path=plain_file)
    dataset = release(dac=dac, steward=steward, files=[file])
    return {"file": file, "dataset": dataset, "plain": plain_file.read_bytes()}

"""Catalogue fixtures: ready files as ingestion leaves them, and clients for the personas."""

import hashlib

import pytest

from gdi_archive.catalogue.models import Dataset, File
from gdi_archive.passports.grants import Grants


def make_file(submitter, name, *, status=File.Status.READY, fmt=File.Format.BAM, size=1000, index_of=None):
    file = File.objects.create(
        submitter=submitter,
        inbox_name=f"{name}.c4gh",
        name=name,
        format=fmt,
        status=status,
        plaintext_size=size,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        index_of=index_of,
    )
    if status == File.Status.READY:
        file.assign_accession()
        file.save()
    return file


@pytest.fixture
def ready_files(steward):
    """Two ready BAMs (the first with a ready index), a file still verifying and a failed one."""
    first = make_file(steward, "sample1.bam", size=1500)
    make_file(steward, "sample1.bam.bai", fmt=File.Format.BAI, size=96, index_of=first)
    second = make_file(steward, "sample2.bam", size=2500)
    verifying = make_file(steward, "sample3.bam", status=File.Status.VERIFYING)
    failed = make_file(steward, "sample4.bam", status=File.Status.ERROR)
    return {"first": first, "second": second, "verifying": verifying, "failed": failed}


@pytest.fixture
def draft(dac, steward):
    from gdi_archive.catalogue.services import create_dataset

    return create_dataset(actor=steward, title="Rare disease exomes", dac=dac.accession, duo=["DUO:0000042"])


@pytest.fixture
def released(draft, ready_files, steward):
    from gdi_archive.catalogue.services import add_files_to_dataset, release_dataset

    add_files_to_dataset(
        actor=steward, dataset=draft, files=[ready_files["first"].accession, ready_files["second"].accession]
    )
    return release_dataset(actor=steward, dataset=draft)


def token_client(user, datasets: list[Dataset]):
    """An API client authenticated as the passports app does for a bearer token granting `datasets`."""
    from rest_framework.test import APIClient

    client = APIClient()
    grants = Grants(
        subject=user.username, issuer="http://testserver", datasets=frozenset(d.accession for d in datasets)
    )
    client.force_authenticate(user=user, token=grants)
    return client

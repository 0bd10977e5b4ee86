"""`manage.py bootstrap` end to end on the test database, with the real ingest in-process."""

import io
import re

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from gdi_archive.accounts.models import User
from gdi_archive.audit.models import AuditEvent
from gdi_archive.catalogue.models import DAC, Dataset, File
from tests.conftest import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ROW = re.compile(r"^\| (applicant|dac-member|steward|admin)\s+(\S+)\s", re.MULTILINE)


def bootstrap(*args) -> str:
    out = io.StringIO()
    call_command("bootstrap", *args, stdout=out)
    return out.getvalue()


def test_first_start_sets_up_the_demo_and_a_second_start_changes_nothing():
    first = bootstrap()
    passwords = dict(ROW.findall(first))
    assert set(passwords) == {"applicant", "dac-member", "steward", "admin"}
    for username, password in passwords.items():
        user = authenticate(username=username, password=password)
        assert user is not None, username
        assert password not in user.password  # only the hash is stored
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.get(username="steward").is_steward
    member = User.objects.get(username="dac-member")
    assert member.is_staff and not member.is_steward and not User.objects.get(username="applicant").is_staff

    dac = DAC.objects.get(members=member)
    dataset = Dataset.objects.get(dac=dac)
    assert dataset.status == "released" and dataset.duo == ["DUO:0000042", "DUO:0000046"]
    files = list(dataset.files.order_by("name"))
    assert [(f.name, f.format, f.status) for f in files] == [
        ("demo-sample.bam", "BAM", "ready"),
        ("demo-variants.vcf.gz", "VCF", "ready"),
    ]
    assert all(f.has_index and f.accession and f.plaintext_size and len(f.sha256) == 64 for f in files)
    indexes = File.objects.filter(index_of__in=files)
    assert sorted(i.format for i in indexes) == ["BAI", "TBI"] and all(i.status == "ready" for i in indexes)
    assert not AuditEvent.objects.filter(details__icontains=passwords["admin"]).exists()

    # The dataset shows up in the admin for the DAC member.
    assert dataset.accession in client_for(member).get("/admin/catalogue/dataset/").content.decode()

    counts = (
        User.objects.count(),
        DAC.objects.count(),
        Dataset.objects.count(),
        File.objects.count(),
        AuditEvent.objects.count(),
    )
    second = bootstrap()
    assert not ROW.search(second)
    assert all(password not in second for password in passwords.values())
    assert "changepassword" in second and dataset.accession in second
    assert (
        User.objects.count(),
        DAC.objects.count(),
        Dataset.objects.count(),
        File.objects.count(),
        AuditEvent.objects.count(),
    ) == counts


def test_no_demo_only_makes_keys():
    output = bootstrap("--no-demo")
    assert "no demo data" in output
    assert not User.objects.exists() and not Dataset.objects.exists()

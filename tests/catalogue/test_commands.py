"""The stewardship management commands, as an operator runs them."""

import io

import pytest
from django.core.management import CommandError, call_command

from gdi_archive.audit.models import AuditEvent
from gdi_archive.catalogue.models import DAC, Dataset

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_a_steward_builds_and_releases_a_dataset(steward, admin_user, applicant, ready_files):
    # Who sits on a DAC is an operator's (or the DAC's own) call, not a steward's.
    dac = run("create_dac", "Cmd DAC", "--as", "root", "--contact-email", "cmd@example.org", "--member", "alice")
    assert DAC.objects.get(accession=dac).members.get() == applicant
    applicant.refresh_from_db()
    assert applicant.is_staff
    dataset = run(
        "create_dataset",
        "Cmd dataset",
        "--as",
        "sam",
        "--dac",
        dac,
        "--duo",
        "DUO:0000006",
        "--duo",
        "DUO:0000021",
        "--file",
        ready_files["first"].accession,
    )
    assert (
        run("add_files", dataset, ready_files["second"].accession, "--as", "sam") == f"{dataset} now holds 2 file(s)."
    )
    assert run("release_dataset", dataset, "--as", "sam") == f"{dataset} is released."
    saved = Dataset.objects.get(accession=dataset)
    assert saved.duo == ["DUO:0000006", "DUO:0000021"] and saved.status == "released"
    assert AuditEvent.objects.filter(action="catalogue.dataset.released", actor=steward).exists()
    assert (
        run("release_dataset", dataset, "--withdraw", "--reason", "test", "--as", "sam") == f"{dataset} is withdrawn."
    )
    assert run("add_dac_member", dac, "alice", "--remove", "--as", "root") == f"{dac}: no members"


@pytest.mark.parametrize(
    "args, words",
    [
        (["create_dac", "X", "--as", "alice"], "Only data stewards"),
        (["create_dac", "X", "--as", "ghost"], "No user named 'ghost'"),
        (["create_dataset", "X", "--as", "sam", "--dac", "GDIC99999999999"], "No DAC GDIC99999999999"),
        (
            ["create_dataset", "X", "--as", "sam", "--dac", "{dac}", "--duo", "DUO:0000042", "--duo", "DUO:0000006"],
            "at most one",
        ),
        (["add_files", "{draft}", "GDIF00000099999", "--as", "sam"], "GDIF00000099999"),
        (["add_files", "GDID99999999999", "GDIF00000099999", "--as", "sam"], "No dataset GDID99999999999"),
        (["release_dataset", "{draft}", "--as", "sam"], "no files"),
        (["release_dataset", "{draft}", "--as", "carol"], "Only data stewards"),
        (["add_dac_member", "{dac}", "sam", "--as", "sam"], "Only an operator or a member"),
        (["create_dac", "Y", "--as", "sam", "--member", "sam"], "Only an operator or a member"),
    ],
)
def test_refusals_are_clear_errors_and_change_nothing(args, words, steward, applicant, dac_member, dac, draft):
    before = AuditEvent.objects.filter(action__startswith="catalogue.").count()
    args = [a.format(dac=dac.accession, draft=draft.accession) for a in args]
    with pytest.raises(CommandError, match=words):
        run(*args)
    assert AuditEvent.objects.filter(action__startswith="catalogue.").count() == before
    draft.refresh_from_db()
    assert draft.status == "draft"

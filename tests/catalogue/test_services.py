"""Every stewardship rule and refusal, through the services (the API tests repeat the main ones)."""

import pytest

from gdi_archive.audit.models import AuditEvent
from gdi_archive.catalogue import services
from gdi_archive.catalogue.models import DAC, Dataset
from gdi_archive.common.errors import Conflict, Forbidden, InvalidInput, NotFound

from .conftest import make_file

pytestmark = pytest.mark.django_db


def actions():
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_steward_creates_a_dac_and_it_is_audited(steward):
    dac = services.create_dac(actor=steward, name=" Neuro DAC ", contact_email="neuro@example.org")
    assert dac.accession.startswith("GDIC") and dac.name == "Neuro DAC"
    event = AuditEvent.objects.get(action="catalogue.dac.created")
    assert event.actor == steward and event.target_id == dac.accession


def test_superuser_may_steward(admin_user):
    assert services.create_dac(actor=admin_user, name="Ops DAC").accession


@pytest.mark.parametrize("persona", ["applicant", "dac_member", "other_dac_member"])
def test_non_stewards_are_refused_everything(persona, request, dac, draft, ready_files):
    user = request.getfixturevalue(persona)
    foreign = DAC.objects.create(name="A DAC nobody here sits on")
    before = (
        DAC.objects.count(),
        Dataset.objects.count(),
        AuditEvent.objects.filter(action__startswith="catalogue.").count(),
    )
    calls = [
        lambda: services.create_dac(actor=user, name="Mine"),
        lambda: services.add_dac_member(actor=user, dac=foreign, username=user.username),
        lambda: services.remove_dac_member(actor=user, dac=foreign, username=user.username),
        lambda: services.create_dataset(actor=user, title="t", dac=dac.accession),
        lambda: services.add_files_to_dataset(actor=user, dataset=draft, files=[ready_files["first"].accession]),
        lambda: services.release_dataset(actor=user, dataset=draft),
        lambda: services.withdraw_dataset(actor=user, dataset=draft),
    ]
    for call in calls:
        with pytest.raises(Forbidden):
            call()
    assert (
        DAC.objects.count(),
        Dataset.objects.count(),
        AuditEvent.objects.filter(action__startswith="catalogue.").count(),
    ) == before
    assert draft.files.count() == 0


def test_inactive_steward_is_refused(steward):
    steward.is_active = False
    steward.save()
    with pytest.raises(Forbidden):
        services.create_dac(actor=steward, name="x")


def test_dac_names_are_unique_and_emails_checked(steward, dac):
    with pytest.raises(Conflict):
        services.create_dac(actor=steward, name=dac.name.upper())
    with pytest.raises(InvalidInput, match="not an email"):
        services.create_dac(actor=steward, name="New", contact_email="nobody")
    with pytest.raises(InvalidInput, match="required"):
        services.create_dac(actor=steward, name="  ")


def test_member_becomes_staff_and_leaves_staff_with_the_last_dac(admin_user, dac, other_dac, applicant):
    steward = admin_user  # an operator seats and unseats members
    assert not applicant.is_staff
    services.add_dac_member(actor=steward, dac=dac, username="alice")
    services.add_dac_member(actor=steward, dac=other_dac, username="alice")
    applicant.refresh_from_db()
    assert applicant.is_staff and set(applicant.dacs.all()) == {dac, other_dac}
    with pytest.raises(Conflict, match="already a member"):
        services.add_dac_member(actor=steward, dac=dac, username="alice")
    services.remove_dac_member(actor=steward, dac=dac, username="alice")
    applicant.refresh_from_db()
    assert applicant.is_staff  # still in other_dac
    services.remove_dac_member(actor=steward, dac=other_dac, username="alice")
    applicant.refresh_from_db()
    assert not applicant.is_staff
    with pytest.raises(Conflict, match="not a member"):
        services.remove_dac_member(actor=steward, dac=dac, username="alice")
    assert actions().count("catalogue.dac.member_added") == 2
    assert actions().count("catalogue.dac.member_removed") == 2


def test_a_steward_leaving_a_dac_stays_staff(steward, admin_user, dac):
    services.add_dac_member(actor=admin_user, dac=dac, username=steward.username)
    services.remove_dac_member(actor=steward, dac=dac, username=steward.username)
    steward.refresh_from_db()
    assert steward.is_staff


def test_unknown_or_disabled_member_is_refused(admin_user, dac, applicant):
    steward = admin_user
    with pytest.raises(InvalidInput, match="No user named 'nobody'"):
        services.add_dac_member(actor=steward, dac=dac, username="nobody")
    applicant.is_active = False
    applicant.save()
    with pytest.raises(InvalidInput, match="disabled"):
        services.add_dac_member(actor=steward, dac=dac, username="alice")
    assert dac.members.count() == 0


def test_create_dataset_starts_as_draft_with_checked_fields(steward, dac):
    dataset = services.create_dataset(
        actor=steward,
        title="Exomes",
        dac=dac.accession,
        duo=["DUO:0000006", "DUO:0000046"],
        terms_url="https://example.org/terms",
        terms_text="Do not re-identify.",
        max_access_days=90,
    )
    assert dataset.status == Dataset.Status.DRAFT and dataset.accession.startswith("GDID")
    assert dataset.dac == dac and dataset.duo == ["DUO:0000006", "DUO:0000046"] and dataset.max_access_days == 90
    assert "catalogue.dataset.created" in actions()


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"title": ""}, "title"),
        ({"dac": "GDIC99999999999"}, "No DAC GDIC99999999999"),
        ({"duo": ["DUO:0000042", "DUO:0000004"]}, "at most one"),
        ({"terms_url": "javascript:alert(1)"}, "terms_url"),
        ({"max_access_days": 0}, "max_access_days"),
        ({"max_access_days": 100000}, "max_access_days"),
    ],
)
def test_create_dataset_refuses_bad_input_and_writes_nothing(steward, dac, changes, words):
    fields = {"title": "Exomes", "dac": dac.accession, **changes}
    with pytest.raises(InvalidInput, match=words):
        services.create_dataset(actor=steward, **fields)
    assert not Dataset.objects.exists() and "catalogue.dataset.created" not in actions()


def test_only_ready_data_files_with_accessions_go_in(steward, draft, ready_files):
    index = ready_files["first"].indexes.get()
    with pytest.raises(InvalidInput) as refused:
        services.add_files_to_dataset(
            actor=steward, dataset=draft, files=[ready_files["first"].accession, "GDIF00000009999", "nonsense"]
        )
    assert "GDIF00000009999, nonsense" in refused.value.detail
    assert draft.files.count() == 0  # all or nothing
    # Not ready files have no accession yet; an index never has one; give their ids anyway.
    for bad in (ready_files["verifying"], ready_files["failed"], index):
        with pytest.raises(InvalidInput):
            services.add_files_to_dataset(actor=steward, dataset=draft, files=[bad.accession or str(bad.pk)])
    with pytest.raises(InvalidInput):
        services.add_files_to_dataset(actor=steward, dataset=draft, files=[])
    services.add_files_to_dataset(actor=steward, dataset=draft, files=[ready_files["first"].accession])
    services.add_files_to_dataset(
        actor=steward, dataset=draft, files=[ready_files["first"].accession, ready_files["second"].accession]
    )
    assert set(draft.files.all()) == {ready_files["first"], ready_files["second"]}
    assert actions().count("catalogue.dataset.files_added") == 2


def test_a_ready_file_that_became_an_error_is_refused(steward, draft):
    file = make_file(steward, "x.bam")
    file.status = "error"
    file.save()
    with pytest.raises(InvalidInput):
        services.add_files_to_dataset(actor=steward, dataset=draft, files=[file.accession])


def test_release_needs_a_file_and_happens_once(steward, draft, ready_files):
    with pytest.raises(Conflict, match="no files"):
        services.release_dataset(actor=steward, dataset=draft)
    services.add_files_to_dataset(actor=steward, dataset=draft, files=[ready_files["first"].accession])
    released = services.release_dataset(actor=steward, dataset=draft)
    assert released.status == "released" and released.released_at is not None
    with pytest.raises(Conflict, match="already released"):
        services.release_dataset(actor=steward, dataset=draft)
    assert actions().count("catalogue.dataset.released") == 1


def test_released_datasets_take_no_more_files(steward, released, ready_files):
    extra = make_file(steward, "late.bam")
    with pytest.raises(Conflict, match="only be added to a draft"):
        services.add_files_to_dataset(actor=steward, dataset=released, files=[extra.accession])
    assert extra not in released.files.all()


def test_withdraw_is_final(steward, released):
    withdrawn = services.withdraw_dataset(actor=steward, dataset=released, reason="consent withdrawn")
    assert withdrawn.status == "withdrawn"
    with pytest.raises(Conflict):
        services.withdraw_dataset(actor=steward, dataset=released)
    with pytest.raises(Conflict):
        services.release_dataset(actor=steward, dataset=released)
    event = AuditEvent.objects.get(action="catalogue.dataset.withdrawn")
    assert event.details == {"previous_status": "released", "reason": "consent withdrawn"}


def test_unknown_dataset_is_not_found(steward):
    ghost = Dataset(accession="GDID99999999999")
    with pytest.raises(NotFound):
        services.release_dataset(actor=steward, dataset=ghost)

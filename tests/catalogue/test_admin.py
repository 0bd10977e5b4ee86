"""The admin through the Django test client: stewards manage, DAC members see only their own."""

import pytest
from django.test import Client

from gdi_archive.audit.models import AuditEvent
from gdi_archive.catalogue import services
from gdi_archive.catalogue.models import DAC, Dataset

from .conftest import make_file

pytestmark = pytest.mark.django_db

LIST = "/admin/catalogue/dataset/"


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def other_draft(other_dac, steward):
    return services.create_dataset(actor=steward, title="Tumour genomes", dac=other_dac.accession)


def test_steward_sees_every_dataset_with_counts_and_sizes(steward, released, other_draft):
    page = browser(steward).get(LIST)
    assert page.status_code == 200
    text = page.content.decode()
    assert released.accession in text and other_draft.accession in text
    assert "3.9\xa0KB" in text  # 1500 + 2500 bytes
    assert browser(steward).get(LIST + "?status__exact=draft").content.decode().count(released.accession) == 0
    assert other_draft.accession in browser(steward).get(LIST + f"?q={other_draft.accession}").content.decode()


def test_steward_change_page_lists_files(steward, released, ready_files):
    page = browser(steward).get(f"{LIST}{released.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert ready_files["first"].accession in text and "sample2.bam" in text


def test_dac_member_sees_only_their_dacs_datasets_read_only(dac_member, released, other_draft):
    client = browser(dac_member)
    text = client.get(LIST).content.decode()
    assert released.accession in text and other_draft.accession not in text
    assert other_draft.title not in client.get(LIST + f"?q={other_draft.accession}").content.decode()
    own = client.get(f"{LIST}{released.pk}/change/")
    assert own.status_code == 200 and 'name="title"' not in own.content.decode()  # view only
    other = client.get(f"{LIST}{other_draft.pk}/change/", follow=False)
    assert other.status_code in (302, 404)
    assert other_draft.title not in client.get(f"{LIST}{other_draft.pk}/change/", follow=True).content.decode()
    dacs = client.get("/admin/catalogue/dac/").content.decode()
    assert released.dac.accession in dacs and other_draft.dac.accession not in dacs


def test_dac_member_cannot_change_add_or_run_actions(dac_member, released, draft, ready_files):
    client = browser(dac_member)
    before = AuditEvent.objects.filter(action__startswith="catalogue.").count()
    post = client.post(f"{LIST}{released.pk}/change/", {"title": "hacked", "max_access_days": 1})
    assert post.status_code == 403
    assert client.get(LIST + "add/").status_code == 403
    client.post(LIST, {"action": "withdraw", "_selected_action": [released.pk]})
    released.refresh_from_db()
    assert released.title != "hacked" and released.status == "released"
    assert AuditEvent.objects.filter(action__startswith="catalogue.").count() == before


def test_applicant_is_kept_out_of_the_admin(applicant, released):
    response = browser(applicant).get(f"{LIST}{released.pk}/change/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_steward_adds_a_dataset_and_files_and_releases_it_through_the_admin(steward, dac, ready_files):
    client = browser(steward)
    form = {
        "title": "Admin dataset",
        "description": "",
        "dac": dac.pk,
        "duo_codes": ["DUO:0000042"],
        "terms_url": "",
        "terms_text": "",
        "max_access_days": 365,
    }
    prefix = _inline_prefix(client.get(LIST + "add/"))
    form.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    bad = client.post(LIST + "add/", {**form, "duo_codes": ["DUO:0000042", "DUO:0000006"]})
    assert bad.status_code == 200 and "at most one" in bad.content.decode()
    assert not Dataset.objects.exists()
    created = client.post(LIST + "add/", form)
    assert created.status_code == 302, created.content.decode()[-3000:]
    dataset = Dataset.objects.get(title="Admin dataset")
    assert dataset.duo == ["DUO:0000042"] and dataset.status == "draft"

    change = f"{LIST}{dataset.pk}/change/"
    prefix = _inline_prefix(client.get(change))
    inline = {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    refused = client.post(change, {**form, **inline, "add_files": "GDIF00000099999"})
    assert refused.status_code == 200 and "GDIF00000099999" in refused.content.decode()
    added = client.post(change, {**form, **inline, "add_files": ready_files["first"].accession})
    assert added.status_code == 302
    assert list(dataset.files.all()) == [ready_files["first"]]

    client.post(LIST, {"action": "release", "_selected_action": [dataset.pk]})
    dataset.refresh_from_db()
    assert dataset.status == "released"
    again = client.post(LIST, {"action": "release", "_selected_action": [dataset.pk]}, follow=True)
    assert "already released" in again.content.decode()
    client.post(LIST, {"action": "withdraw", "_selected_action": [dataset.pk]})
    dataset.refresh_from_db()
    assert dataset.status == "withdrawn"
    assert {
        "catalogue.dataset.created",
        "catalogue.dataset.files_added",
        "catalogue.dataset.released",
        "catalogue.dataset.withdrawn",
    } <= set(AuditEvent.objects.values_list("action", flat=True))


def test_changing_terms_of_a_released_dataset_bumps_the_version(steward, released):
    client = browser(steward)
    change = f"{LIST}{released.pk}/change/"
    prefix = _inline_prefix(client.get(change))
    response = client.post(
        change,
        {
            "title": released.title,
            "description": "",
            "duo_codes": ["DUO:0000042"],
            "terms_url": "",
            "terms_text": "New terms.",
            "max_access_days": 365,
            f"{prefix}-TOTAL_FORMS": 2,
            f"{prefix}-INITIAL_FORMS": 2,
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    released.refresh_from_db()
    assert released.terms_text == "New terms." and released.terms_version == 2 and released.files.count() == 2


def test_operator_manages_dac_members_through_the_admin(admin_user, dac, applicant):
    client = browser(admin_user)
    created = client.post("/admin/catalogue/dac/add/", {"name": "Admin DAC", "description": "", "contact_email": ""})
    assert created.status_code == 302
    new = DAC.objects.get(name="Admin DAC")
    change = f"/admin/catalogue/dac/{new.pk}/change/"
    unknown = client.post(change, {"description": "", "contact_email": "", "add_member": "nobody"})
    assert unknown.status_code == 200 and "No active user" in unknown.content.decode()
    client.post(change, {"description": "d", "contact_email": "", "add_member": "alice"})
    applicant.refresh_from_db()
    assert applicant.is_staff and list(new.members.all()) == [applicant]
    client.post(change, {"description": "d", "contact_email": "", "remove_member": "alice"})
    applicant.refresh_from_db()
    assert not applicant.is_staff and new.members.count() == 0


def _inline_prefix(page) -> str:
    """The management-form prefix of the files inline, read from the page."""
    import re

    match = re.search(r'name="([^"]+)-TOTAL_FORMS"', page.content.decode())
    assert match, "files inline missing"
    return match.group(1)


def test_make_file_helper_is_shared():
    assert callable(make_file)

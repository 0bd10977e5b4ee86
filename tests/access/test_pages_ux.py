"""What the walk-through of the applicant pages found (issue 14, item 5), each through the
pages with Django's client: confirmations before withdraw/delete, a draft is deleted rather than
withdrawn, revoked and expired access says so, empty states say what to do next, forms say
which fields are required and where the errors are, and the pages speak Estonian."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gdi_archive.access.models import AccessRequest, Entitlement
from gdi_archive.audit.models import AuditEvent

from .factories import released_dataset
from .test_pages import form, signed_in

pytestmark = pytest.mark.django_db


def estonian(user) -> Client:
    client = signed_in(user)
    client.post("/i18n/setlang/", {"language": "et", "next": "/"})
    return client


def test_withdraw_asks_first_then_withdraws(applicant, dac):
    d = released_dataset(dac)
    client = signed_in(applicant)
    client.post("/requests/new", form(d))
    req = AccessRequest.objects.get()
    detail = client.get(f"/requests/{req.pk}").content.decode()
    assert f'href="/requests/{req.pk}/withdraw"' in detail  # a link to the confirmation, not a bare POST button
    page = client.get(f"/requests/{req.pk}/withdraw")
    html = page.content.decode()
    assert page.status_code == 200 and "Withdraw request" in html and dac.name in html and "Cancel" in html
    req.refresh_from_db()
    assert req.status == "submitted"  # the GET changed nothing
    client.post(f"/requests/{req.pk}/withdraw", {"comment": "Project ended."})
    req.refresh_from_db()
    assert req.status == "withdrawn"
    assert req.events.filter(kind="withdrawn", comment="Project ended.").exists()
    # a withdrawn request has nothing left to confirm
    assert client.get(f"/requests/{req.pk}/withdraw").status_code == 302


def test_a_draft_is_deleted_not_withdrawn(applicant, dac, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.ACCESS_ATTACHMENTS_DIR = tmp_path / "att"
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .test_pages import PDF

    d = released_dataset(dac)
    client = signed_in(applicant)
    client.post("/requests/new", form(d, submit=None, draft="1", attachment=SimpleUploadedFile("e.pdf", PDF)))
    req = AccessRequest.objects.get()
    assert req.status == "draft"
    stored = list((tmp_path / "att").rglob("*"))
    assert any(p.is_file() for p in stored)
    detail = client.get(f"/requests/{req.pk}").content.decode()
    assert "Delete draft" in detail and ">Withdraw<" not in detail
    confirm = client.get(f"/requests/{req.pk}/withdraw").content.decode()
    assert "Delete draft" in confirm and "never sent to the committee" in confirm
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/requests/{req.pk}/withdraw")
    assert response.status_code == 302 and response["Location"] == "/requests"
    assert not AccessRequest.objects.filter(pk=req.pk).exists()
    assert not any(p.is_file() for p in (tmp_path / "att").rglob("*"))
    assert AuditEvent.objects.filter(action="access.request.draft_deleted").exists()
    assert "was deleted" in client.get("/requests").content.decode()


def test_someone_else_gets_no_confirmation_page(applicant, other_applicant, dac_member, dac):
    d = released_dataset(dac)
    signed_in(applicant).post("/requests/new", form(d))
    req = AccessRequest.objects.get()
    assert signed_in(other_applicant).get(f"/requests/{req.pk}/withdraw").status_code == 404
    assert signed_in(dac_member).get(f"/requests/{req.pk}/withdraw").status_code == 404


def test_my_access_says_revoked_and_expired_not_until(applicant, dac):
    now = timezone.now()
    live, revoked, expired = (released_dataset(dac, title=t) for t in ("Live", "Revoked", "Expired"))
    Entitlement.objects.create(
        user=applicant, dataset=live, start=now - timedelta(days=1), end=now + timedelta(days=30)
    )
    Entitlement.objects.create(
        user=applicant,
        dataset=revoked,
        start=now - timedelta(days=10),
        end=now + timedelta(days=50),
        status="revoked",
        revoked_at=now - timedelta(days=2),
        revoke_reason="Project ended early.",
    )
    # still "active" in the table, but its end has passed (the nightly task has not run yet)
    Entitlement.objects.create(
        user=applicant, dataset=expired, start=now - timedelta(days=40), end=now - timedelta(days=3)
    )
    html = signed_in(applicant).get("/access").content.decode()
    rows = {title: html[html.index(f"</a> {title}") :].split("</tr>")[0] for title in ("Live", "Revoked", "Expired")}
    assert (now + timedelta(days=30)).strftime("%Y-%m-%d") in rows["Live"]
    assert "Revoked on " + (now - timedelta(days=2)).strftime("%Y-%m-%d") in rows["Revoked"]
    assert (now + timedelta(days=50)).strftime("%Y-%m-%d") not in rows["Revoked"]  # never "until" a revoked end
    assert "Project ended early." in rows["Revoked"]
    assert "Expired on " + (now - timedelta(days=3)).strftime("%Y-%m-%d") in rows["Expired"]
    assert "Expired" in rows["Expired"].split("</td>")[1]


def test_empty_states_say_what_to_do_next(applicant):
    client = signed_in(applicant)
    for url, link in (("/requests", 'href="/datasets"'), ("/access", 'href="/datasets"'), ("/keys", "keygen")):
        html = client.get(url).content.decode()
        assert 'id="empty-state"' in html and link in html, url


def test_a_refused_form_has_a_summary_linking_to_the_fields(applicant, dac):
    d = released_dataset(dac)
    client = signed_in(applicant)
    body = form(d, title="")
    del body["accept_terms"]
    html = client.post("/requests/new", body).content.decode()
    assert 'id="error-summary"' in html and 'role="alert"' in html
    assert 'href="#id_title"' in html and 'href="#id_accept_terms"' in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_title_error"' in html
    assert '<p class="field-error" id="id_title_error">' in html
    # groups of checkboxes are a fieldset with a legend; required fields are marked
    assert "<fieldset" in html and "<legend>Intended use" in html and "<legend>Datasets" in html
    assert 'class="required"' in html and 'aria-required="true"' in html
    assert not AccessRequest.objects.exists()


def test_the_applicant_pages_speak_estonian(applicant, dac):
    d = released_dataset(dac)
    client = estonian(applicant)
    client.post("/requests/new", form(d, duo=["DUO:0000042", "DUO:0000006"]))
    req = AccessRequest.objects.get()
    detail = client.get(f"/requests/{req.pk}").content.decode()
    assert "General research use" not in detail and "Üldine teadustöö" in detail  # DUO labels
    tokens = client.get("/account/tokens").content.decode()
    assert "<h1>Juurdepääsulubad</h1>" in tokens and "Make a token" not in tokens and "Your tokens" not in tokens
    assert "Withdraw request" not in client.get(f"/requests/{req.pk}/withdraw").content.decode()
    empty = estonian(applicant).get("/access").content.decode()
    assert "Find a dataset" not in empty and "Leidke kataloogist andmestik" in empty
    dataset_page = client.get(f"/datasets/{d.accession}").content.decode()
    assert "GRU (üldine teadustöö)" in dataset_page and "general research use" not in dataset_page
    assert ">English (inglise)</option>" in dataset_page  # language names in the reader's language too


def test_the_request_page_says_revoked_not_until(applicant, dac_member, dac):
    from gdi_archive.access import services

    d = released_dataset(dac)
    client = signed_in(applicant)
    client.post("/requests/new", form(d))
    services.approve_request(access_request=AccessRequest.objects.get(), member=dac_member)
    ent = Entitlement.objects.get()
    services.revoke_entitlement(entitlement=ent, member=dac_member, reason="Ethics approval lapsed.")
    ent.refresh_from_db()
    html = client.get(f"/requests/{ent.access_request_id}").content.decode()
    granted = html[html.index('id="request-entitlements"') :].split("</ul>")[0]
    assert "Revoked on" in granted and "Ethics approval lapsed." in granted and "until" not in granted


def test_a_refused_sign_in_has_the_summary_and_required_marks(client, applicant):
    html = client.post("/login", {"username": "alice", "password": "wrong"}).content.decode()
    assert 'id="error-summary"' in html and 'class="required"' in html
    assert 'for="id_username"' in html and 'for="id_password"' in html

"""The DAC workbench and the co-applicant story in a real browser (Debian's chromium driven by
Playwright): an invitee opens the emailed link and joins, the applicant sees the member, a DAC
member opens the inbox and the request, sees the DUO check and the document, is refused an end
date past the dataset's limit (the limit shown) and approves. Screenshots at 1280 and 390 px wide,
in English and Estonian, go to tests/artifacts/browser/dac-*.png (not committed). axe-core checks
every page at both widths: no serious or critical violation."""

import re
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.access.factories import released_dataset
from tests.browser.axe import violations
from tests.browser.test_story import chromium, page_for, pytestmark, shot, sign_in  # noqa: F401 (pytestmark applies here too)

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
WIDE, NARROW = 1280, 390


def both_widths(page, name):
    """The page as it is at 1280 px, then at 390 px (no reload), then back: its horizontal
    overflow at 390 px and the serious or critical axe-core violations at either width."""
    page.set_viewport_size({"width": WIDE, "height": 900})
    shot(page, f"{name}-{WIDE}")
    found = [f"{WIDE}px {v['impact']} {v['id']} at {', '.join(v['nodes'])}" for v in violations(page)]
    page.set_viewport_size({"width": NARROW, "height": 844})
    shot(page, f"{name}-{NARROW}")
    found += [f"{NARROW}px {v['impact']} {v['id']} at {', '.join(v['nodes'])}" for v in violations(page)]
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    page.set_viewport_size({"width": WIDE, "height": 900})
    return overflow, found


def test_invitee_joins_and_the_dac_decides_on_the_workbench(
    transactional_db, applicant, dac, dac_member, mailoutbox, live_server, settings, tmp_path
):
    from gdi_archive.access import attachments, services
    from gdi_archive.access.models import AccessRequest, Entitlement, RequestMember
    from tests.conftest import make_user

    settings.ACCESS_ATTACHMENTS_DIR = tmp_path / "att"
    dac.required_documents = [{"kind": "ethics-approval", "label": "Ethics approval", "required": True}]
    dac.save()
    dataset = released_dataset(dac, title="Estonian rare disease exomes", duo=["DUO:0000006", "DUO:0000046"])
    second = released_dataset(dac, title="Second cohort")
    req = services.create_request(
        applicant=applicant,
        datasets=[dataset.accession],
        title="Variant burden in rare disease",
        purpose="Find causal variants in undiagnosed patients.",
        institution="University of Tartu",
        duo=["DUO:0000007"],
        accept_terms=True,
    )
    attachments.add_attachment(
        access_request=req,
        applicant=applicant,
        upload=SimpleUploadedFile("ethics.pdf", PDF, "application/pdf"),
        kind="ethics-approval",
    )
    services.invite_member(access_request=req, applicant=applicant, email="erik@example.org")
    services.submit_request(access_request=req, applicant=applicant)
    token = re.search(r"/invitations/([A-Za-z0-9_-]+)", mailoutbox[0].body).group(1)
    make_user("erik")
    limit = services.end_limit(dataset).isoformat()
    too_late = (timezone.now() + timedelta(days=dataset.max_access_days + 30)).date().isoformat()
    end = (timezone.now() + timedelta(days=90)).date().isoformat()

    with chromium() as browser:
        problems = story(browser, live_server.url, req.pk, token, limit, too_late, end, second.accession)

    assert problems == {}, problems
    assert RequestMember.objects.get().status == "accepted"
    assert set(Entitlement.objects.values_list("user__username", flat=True)) == {"alice", "erik"}
    assert Entitlement.objects.filter(end__date=end).count() == 2
    assert AccessRequest.objects.get(title="Second look").status == "draft"


def story(browser, base, pk, token, limit, too_late, end, second):
    errors, problems = [], {}

    def record(page, name):
        overflow, found = both_widths(page, name)
        if overflow > 0:
            problems[name] = overflow
        if found:
            problems[f"{name} (axe-core)"] = found

    # --- the invitee opens the emailed link (in Estonian: the browser asks for it) ---------------
    erik = page_for(browser, errors, locale="et-EE")
    sign_in(erik, base, f"/login?next=/invitations/{token}", "erik")
    assert erik.locator("h1").inner_text() == "Kutse taotlusse"
    erik.get_by_role("button", name="Nõustu ja liitu").click()
    assert erik.locator("#id_accept_terms_error").is_visible()  # the terms, or no joining
    assert erik.evaluate("document.activeElement.id") == "error-summary"
    record(erik, "dac-01-invitation-refused-et")
    erik.check("#id_accept_terms")
    erik.get_by_role("button", name="Nõustu ja liitu").click()
    erik.wait_for_url(f"**/requests/{pk}")
    record(erik, "dac-02-joined-et")

    # --- the applicant sees the co-applicant on the request page ---------------------------------
    alice = page_for(browser, errors, locale="en-GB")
    sign_in(alice, base, f"/login?next=/requests/{pk}", "alice")
    assert "joined, terms accepted" in alice.locator("table.members").inner_text()
    record(alice, "dac-03-applicant-members")

    # --- the form the DAC configured: a required document missing keeps a draft and says where ---
    alice.goto(f"{base}/requests/new?dataset={second}")
    alice.fill("#id_title", "Second look")
    alice.fill("#id_purpose", "Replicate the burden test.")
    alice.check("#id_accept_terms")
    alice.get_by_role("button", name="Submit request").click()
    alice.wait_for_load_state()
    assert "Ethics approval" in alice.locator("#error-summary").inner_text()
    assert alice.locator("#id_doc_ethics-approval_error").is_visible()
    assert alice.evaluate("document.activeElement.id") == "error-summary"
    assert alice.input_value("#id_title") == "Second look"  # what was typed is kept
    record(alice, "dac-03b-documents-missing")

    # --- a DAC member: the inbox, the request, the DUO check, the document ----------------------
    carol = page_for(browser, errors, locale="en-GB")
    sign_in(carol, base, "/login?next=/dac/", "carol")
    tabs = carol.locator(".dac-tabs").inner_text()
    assert "To decide 1" in " ".join(tabs.split())
    record(carol, "dac-04-inbox")
    carol.get_by_role("link", name="Variant burden in rare disease").click()
    duo = carol.locator("#duo-check").inner_text()
    assert "Compatible" in duo and "DUO:0000046" in duo  # DS inside HMB fits; NCU is a condition
    link = carol.get_by_role("link", name="ethics.pdf")
    document = carol.request.get(base + link.get_attribute("href"))
    assert document.headers["content-type"] == "application/pdf" and document.body() == PDF
    assert "inline" in document.headers["content-disposition"]
    record(carol, "dac-05-request")

    carol.fill("#id_end", too_late)
    carol.get_by_role("button", name="Approve").click()
    assert limit in carol.locator("#error-summary").inner_text()
    assert carol.evaluate("document.activeElement.id") == "error-summary"
    record(carol, "dac-06-end-refused")

    # --- the same pages in Estonian, through the switcher; then the approval ---------------------
    carol.goto(f"{base}/dac/requests/{pk}")
    with carol.expect_navigation():
        carol.select_option("#language", "et")
    assert carol.locator("#duo-check").get_by_text("Sobib").count() == 1
    assert "ainult mitteäriline kasutus" in carol.locator("#duo-check").inner_text()  # NCU, in Estonian
    record(carol, "dac-07-request-et")
    carol.goto(f"{base}/dac/")
    assert carol.locator("h1").inner_text() == "Andmekomitee töölaud"
    record(carol, "dac-08-inbox-et")
    carol.goto(f"{base}/dac/requests/{pk}")
    carol.fill("#id_end", end)
    carol.get_by_role("button", name="Kiida heaks").click()
    carol.wait_for_url(f"**/dac/requests/{pk}")
    assert "Sinu heakskiit salvestati." in carol.locator(".messages").inner_text()
    record(carol, "dac-09-approved-et")
    # The refused approval answers 400 on purpose; chromium logs that as a console error.
    assert [e for e in errors if "/approve: Failed to load resource" not in e] == []
    return problems

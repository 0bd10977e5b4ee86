"""The whole story in a real browser (Debian's chromium driven by Playwright):
an applicant requests access and accepts the terms, a DAC member approves in the admin,
the applicant sees the approval and the entitlement. A screenshot of each page goes to
tests/artifacts/browser/ (not committed)."""

import shutil
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.access.factories import released_dataset
from tests.conftest import ARTIFACTS, PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ARTIFACTS / "browser"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"),
]


@contextmanager
def chromium():
    """Playwright's sync API runs an event loop in this thread while it is open, so Django would
    take the thread for async code: the test touches the database only before and after."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def shot(page, name):
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base, path, username):
    page.goto(f"{base}{path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state()


def test_request_approve_and_see_access(transactional_db, applicant, dac, dac_member, live_server):
    # Database fixtures first: the session-wide live server must stop before the test database is dropped.
    from gdi_archive.access.models import Entitlement, TermsAcceptance

    dataset = released_dataset(dac, title="Estonian rare disease exomes", duo=["DUO:0000042"], terms_version=2)
    released_dataset(dac, title="Another cohort of the same DAC")
    end = (timezone.now() + timedelta(days=90)).date().isoformat()
    with chromium() as browser:
        story(browser, live_server.url, dataset, end)
    assert TermsAcceptance.objects.filter(user=applicant, dataset=dataset, version=2).exists()
    ent = Entitlement.objects.get(user=applicant)
    assert ent.status == "active" and ent.granted_by == dac_member and ent.end.date().isoformat() == end


def page_for(browser, errors, **options):
    """A page whose console errors (a blocked inline script, a failed load) are collected."""
    page = browser.new_context(viewport={"width": 1200, "height": 900}, **options).new_page()
    page.on("console", lambda message: message.type == "error" and errors.append(f"{page.url}: {message.text}"))
    return page


def story(browser, base, dataset, end):
    errors = []

    # --- the applicant finds the dataset and asks for access -----------------------------------
    alice = page_for(browser, errors, locale="en-GB")
    alice.goto(f"{base}/datasets")
    shot(alice, "01-catalogue")
    alice.fill("#q", "estonian")
    alice.wait_for_timeout(700)  # htmx swaps the results in place
    assert alice.locator("#results").get_by_text("Another cohort").count() == 0
    alice.get_by_role("link", name="Estonian rare disease exomes").click()
    shot(alice, "02-dataset-anonymous")
    alice.get_by_role("link", name="Sign in to request access").click()
    alice.fill("input[name=username]", "alice")
    alice.fill("input[name=password]", PASSWORD)
    shot(alice, "03-sign-in")
    alice.click("button[type=submit]")
    alice.wait_for_url(f"**/datasets/{dataset.accession}")
    shot(alice, "04-dataset")
    alice.get_by_role("link", name="Request access").click()
    alice.fill("#id_title", "Variant burden in rare disease")
    alice.fill("#id_purpose", "Find causal variants in undiagnosed patients.")
    alice.fill("#id_institution", "University of Tartu")
    alice.check("input[name=duo][value='DUO:0000042']")
    alice.check("#id_accept_terms")
    shot(alice, "05-request-form")
    alice.get_by_role("button", name="Submit request").click()
    alice.wait_for_url("**/requests/*")
    assert alice.locator("#request-status").inner_text().strip().lower() == "submitted"
    shot(alice, "06-request-submitted")
    request_url = alice.url

    # --- a DAC member approves in the admin -----------------------------------------------------
    carol = page_for(browser, [])  # Django's own admin pages (it asks for a favicon we do not have)
    sign_in(carol, base, "/admin/login/?next=/admin/", "carol")
    carol.goto(f"{base}/admin/access/accessrequest/")
    shot(carol, "07-admin-requests")
    carol.get_by_role("link", name="Variant burden in rare disease").first.click()
    shot(carol, "08-admin-request")
    carol.click("a.decide-link")
    carol.check("input[name=verdict][value=approve]")
    carol.fill("input[name=end]", end)
    carol.fill("textarea[name=comment]", "Approved for the project period.")
    shot(carol, "09-admin-decide")
    carol.click("input[type=submit]")
    carol.wait_for_url("**/change/")
    assert "approved" in carol.locator(".messagelist").inner_text()
    shot(carol, "10-admin-approved")

    # --- the applicant sees the approval and the entitlement -------------------------------------
    alice.goto(request_url)
    assert alice.locator("#request-status").inner_text().strip().lower() == "approved"
    assert "Approved for the project period." in alice.locator("#timeline").inner_text()
    shot(alice, "11-request-approved")
    alice.get_by_role("link", name="My access").click()
    row = alice.locator("#entitlements tbody tr")
    assert row.count() == 1
    assert dataset.accession in row.inner_text() and end in row.inner_text()
    shot(alice, "12-my-access")
    alice.get_by_role("link", name="My requests").click()
    shot(alice, "13-my-requests")
    alice.get_by_role("link", name="My keys").click()
    shot(alice, "14-my-keys")

    # --- the same pages in Estonian, through the switcher ----------------------------------------
    alice.goto(f"{base}/access")
    with alice.expect_navigation():
        alice.select_option("#language", "et")
    assert alice.locator("h1").inner_text() == "Minu juurdepääs"
    assert "kehtiv" in alice.locator("#entitlements").inner_text()
    shot(alice, "15-my-access-et")
    assert errors == []

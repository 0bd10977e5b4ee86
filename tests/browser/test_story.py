"""The whole story in a real browser (Debian's chromium driven by Playwright):
an applicant requests access and accepts the terms, a DAC member approves in the admin,
the applicant sees the approval and the entitlement. A screenshot of each page goes to
tests/artifacts/browser/ (not committed)."""

import os
import shutil
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.access.factories import released_dataset
from tests.conftest import ARTIFACTS, PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ARTIFACTS / "browser"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed (make test installs it)"),
]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; our ORM calls here are plain sync code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def shot(page, name):
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base, path, username):
    page.goto(f"{base}{path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state()


def test_request_approve_and_see_access(transactional_db, applicant, dac, dac_member, live_server, browser):
    # Database fixtures first: the session-wide live server must stop before the test database is dropped.
    from gdi_archive.access.models import Entitlement, TermsAcceptance

    dataset = released_dataset(dac, title="Estonian rare disease exomes", duo=["DUO:0000042"], terms_version=2)
    released_dataset(dac, title="Another cohort of the same DAC")
    base = live_server.url

    # --- the applicant finds the dataset and asks for access -----------------------------------
    alice = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-GB").new_page()
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
    assert TermsAcceptance.objects.filter(user=applicant, dataset=dataset, version=2).exists()
    request_url = alice.url

    # --- a DAC member approves in the admin -----------------------------------------------------
    carol = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    sign_in(carol, base, "/admin/login/?next=/admin/", "carol")
    carol.goto(f"{base}/admin/access/accessrequest/")
    shot(carol, "07-admin-requests")
    carol.get_by_role("link", name="Variant burden in rare disease").first.click()
    shot(carol, "08-admin-request")
    carol.click("a.decide-link")
    end = (timezone.now() + timedelta(days=90)).date().isoformat()
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
    ent = Entitlement.objects.get(user=applicant)
    assert ent.status == "active" and ent.granted_by == dac_member and ent.end.date().isoformat() == end

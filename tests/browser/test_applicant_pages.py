"""Every applicant page in a real browser (Debian's chromium driven by Playwright), in English
and in Estonian, at 1280 and at 390 px wide: axe-core finds no serious or critical violation,
nothing is wider than the window (long tokens wrap, tables stack), every button is on screen,
and the pages are in the reader's language. Screenshots go to tests/artifacts/applicant/
(not committed). One browser, one context per language, so it stays quick."""

import base64
import os
import re
import uuid
from datetime import timedelta

from django.utils import timezone

from tests.access.factories import released_dataset
from tests.browser.axe import violations
from tests.browser.test_story import ARGS, CHROMIUM, chromium, pytestmark  # noqa: F401  (the same markers)
from tests.conftest import ARTIFACTS, PASSWORD

SHOTS = ARTIFACTS / "applicant"
WIDTHS = (1280, 390)


def world(applicant, dac, steward):
    """A dataset with a ready file the applicant may read, a revoked and an expired
    entitlement, a submitted request and a draft, a registered key."""
    from gdi_archive.access.models import AccessRequest, Entitlement
    from gdi_archive.accounts.models import PublicKey
    from gdi_archive.catalogue.models import File

    now = timezone.now()
    live = released_dataset(dac, title="Estonian rare disease exomes", duo=["DUO:0000042"])
    revoked = released_dataset(dac, title="Paediatric cohort", duo=["DUO:0000006", "DUO:0000046"])
    expired = released_dataset(dac, title="Tumour genomes 2019")
    wanted = released_dataset(dac, title="Long-read genomes of the Estonian Biobank")
    f = File.objects.create(
        submitter=steward, inbox_name="NA12878.bam.c4gh", name="NA12878.bam", format="BAM", status="ready"
    )
    f.accession = f"GDIF{f.pk:011d}"
    f.save(update_fields=["accession"])
    live.files.add(f)
    Entitlement.objects.create(
        user=applicant, dataset=live, start=now - timedelta(days=3), end=now + timedelta(days=90)
    )
    Entitlement.objects.create(
        user=applicant,
        dataset=revoked,
        start=now - timedelta(days=30),
        end=now + timedelta(days=60),
        status="revoked",
        revoked_at=now - timedelta(days=1),
        revoke_reason="The project's ethics approval lapsed.",
    )
    Entitlement.objects.create(
        user=applicant, dataset=expired, start=now - timedelta(days=400), end=now - timedelta(days=35), status="expired"
    )
    submitted = AccessRequest.objects.create(
        applicant=applicant,
        dac=dac,
        title="Structural variants in long reads",
        purpose="Call structural variants in long-read genomes.",
        institution="University of Tartu",
        duo=["DUO:0000042"],
        status=AccessRequest.Status.SUBMITTED,
    )
    submitted.datasets.add(wanted)
    draft = AccessRequest.objects.create(
        applicant=applicant,
        dac=dac,
        title="Draft: a replication cohort",
        purpose="To be written.",
        duo=["DUO:0000006"],
        status=AccessRequest.Status.DRAFT,
    )
    draft.datasets.add(wanted)
    key = PublicKey.objects.create(
        user=applicant, label="laptop", key=base64.b64encode(os.urandom(32)).decode(), fingerprint=uuid.uuid4().hex * 2
    )
    return {"live": live, "wanted": wanted, "submitted": submitted, "draft": draft, "key": key}


def test_applicant_pages_are_accessible_and_fit(transactional_db, applicant, dac, steward, live_server):
    data = world(applicant, dac, steward)
    problems = []
    with chromium() as browser:
        for language in ("en", "et"):
            problems += walk(browser, live_server.url, data, language)
    assert problems == [], "\n".join(problems)


def walk(browser, base, data, language) -> list[str]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems, errors = [], []
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="et-EE" if language == "et" else "en-GB"
    )
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(f"{page.url}: {m.text}"))

    def check(name, path=None, *, expect=None):
        """Load (unless already there), then at each width: axe, fit, screenshot."""
        if path is not None:
            page.goto(f"{base}{path}")
        page.wait_for_load_state()
        if expect is not None and expect[language] not in page.locator("main").inner_text():
            problems.append(f"[{language}] {name}: {expect[language]!r} not on the page")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for v in violations(page):
                problems.append(f"[{language} {width}px] {name}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}")
            wide = page.evaluate("() => document.documentElement.scrollWidth")
            if wide > width + 1:
                problems.append(f"[{language} {width}px] {name}: the page is {wide}px wide")
            hidden = page.evaluate(
                """(w) => [...document.querySelectorAll('main button, main a.button')]
                    .filter(b => b.offsetParent !== null)
                    .filter(b => { const r = b.getBoundingClientRect(); return r.left < 0 || r.right > w + 1; })
                    .map(b => b.textContent.trim())""",
                width,
            )
            if hidden:
                problems.append(f"[{language} {width}px] {name}: buttons off screen: {hidden}")
            page.screenshot(path=str(SHOTS / f"{language}-{width}-{name}.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})

    live, wanted, submitted, draft, key = (data[k] for k in ("live", "wanted", "submitted", "draft", "key"))
    check("01-catalogue", "/datasets")
    check("02-sign-in", f"/login?next=/datasets/{wanted.accession}")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"**/datasets/{wanted.accession}")
    check("03-dataset", expect={"en": "general research use", "et": "üldine teadustöö"})
    check("04-request-form", f"/requests/new?dataset={wanted.accession}")
    page.get_by_role("button", name={"en": "Submit request", "et": "Esita taotlus"}[language]).click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    if summary.count() != 1 or not summary.evaluate("e => e === document.activeElement"):
        problems.append(f"[{language}] the refused request form has no focused error summary")
    check("05-request-form-errors")
    check("06-my-requests", "/requests")
    check("07-request-submitted", f"/requests/{submitted.pk}")
    check(
        "08-withdraw-confirm",
        f"/requests/{submitted.pk}/withdraw",
        expect={"en": "Withdraw request", "et": "Võta taotlus tagasi"},
    )
    check("09-request-draft", f"/requests/{draft.pk}", expect={"en": "Delete draft", "et": "Kustuta mustand"})
    check("10-delete-draft-confirm", f"/requests/{draft.pk}/withdraw")
    check("11-request-edit", f"/requests/{draft.pk}/edit")
    check("12-my-access", "/access", expect={"en": "Revoked on", "et": "Tühistatud"})
    check("13-my-keys", "/keys")
    page.fill(
        "#id_key",
        "-----BEGIN CRYPT4GH PRIVATE KEY-----\nYzRnaC12MQAEbm9uZQAEbm9uZQAg\n-----END CRYPT4GH PRIVATE KEY-----",
    )
    page.get_by_role("button", name={"en": "Add key", "et": "Lisa võti"}[language]).click()
    page.wait_for_load_state()
    if "PRIVATE KEY" in page.content():
        problems.append(f"[{language}] the refused secret key is shown again")
    check("14-my-keys-refused")
    check("15-key-revoke-confirm", f"/keys/{key.pk}/revoke")
    check("16-tokens", "/account/tokens", expect={"en": "Make a token", "et": "Loa tegemine"})
    page.locator("main form.token-form button[type=submit]").click()
    page.wait_for_load_state()
    token = page.locator("#token").input_value()
    if not re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", token):
        problems.append(f"[{language}] no token on the page")
    if not page.locator("button[data-copy]").is_visible():
        problems.append(f"[{language}] the copy button is not shown")
    if live.accession not in page.locator("#example-shell").inner_text():
        problems.append(f"[{language}] the examples do not name the user's dataset")
    check("17-token-made")
    check("18-token-revoke-confirm", page.locator("#tokens a.button").first.get_attribute("href"))
    context.close()
    return problems + errors

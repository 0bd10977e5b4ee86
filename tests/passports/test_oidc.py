"""OIDC sign-in against a real provider: node-oidc-provider (npm) started by the test.

The authorization-code flow is driven with `requests` through the provider's own sign-in and
consent pages; the provider's userinfo carries `ga4gh_passport_v1` visas.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from django.test import override_settings

from gdi_archive.accounts.models import ExternalIdentity, User
from tests.conftest import free_port, make_user, wait_for_port

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID, CLIENT_SECRET = "gdi-archive", "a-client-secret-for-tests-only"
REDIRECT_URI = "http://testserver/oidc/callback"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=PROVIDER_DIR,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=300,
        )
    folder = tmp_path_factory.mktemp("oidc")
    accounts = folder / "accounts.json"
    accounts.write_text("{}")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PORT": str(port),
        "ISSUER": issuer,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URI": REDIRECT_URI,
        "ACCOUNTS_FILE": str(accounts),
        "NODE_ENV": "development",
    }
    log = open(folder / "provider.log", "wb")
    proc = subprocess.Popen(["node", "server.js"], cwd=PROVIDER_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield {"issuer": issuer, "accounts": accounts, "log": folder / "provider.log"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def oidc(provider, broker, dac):
    """Settings for sign-in; the provider's visas are signed with the `broker` key (its jku),
    and its grants may open the test DAC's datasets."""
    trusted = [{"iss": provider["issuer"], "jku": broker.jku, "grants": {"dacs": [dac.accession]}}]
    with override_settings(
        OIDC_ISSUER=provider["issuer"],
        OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET=CLIENT_SECRET,
        TRUSTED_ISSUERS=trusted,
    ):
        yield provider


def set_account(provider, account_id: str, **claims):
    accounts = json.loads(provider["accounts"].read_text())
    accounts[account_id] = claims
    provider["accounts"].write_text(json.dumps(accounts))


def sign_in(client, account_id: str, next_url: str = ""):
    """Drive the browser part of the flow; return the archive's answer to the callback."""
    response = client.get("/oidc/login" + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302, response.content
    url, browser = response["Location"], requests.Session()
    for _ in range(12):
        if url.startswith("http://testserver/"):
            parts = urlsplit(url)
            return client.get(parts.path + "?" + parts.query)
        answer = browser.get(url, allow_redirects=False, timeout=10)
        while answer.status_code == 200 and "<form" in answer.text:
            action = urljoin(url, re.search(r'<form[^>]*action="([^"]+)"', answer.text).group(1))
            prompt = re.search(r'name="prompt" value="(\w+)"', answer.text).group(1)
            data = (
                {"prompt": prompt, "login": account_id, "password": "any"} if prompt == "login" else {"prompt": prompt}
            )
            answer = browser.post(action, data=data, allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), answer.text[:500]
        url = urljoin(url, answer.headers["Location"])
    raise AssertionError("the flow did not come back to the archive")


def visa(broker, issuer, *, sub, value, type_="ControlledAccessGrants", by="dac"):
    return broker.visa(iss=issuer, sub=sub, value=value, type_=type_, by=by, source=issuer)


def test_sign_in_links_by_issuer_and_subject(client, oidc, broker, dataset):
    make_user("alice")  # a local account with the same name must not be taken over
    set_account(
        oidc,
        "alice",
        email="alice@uni.example",
        given_name="Alice",
        family_name="Liddell",
        preferred_username="alice",
        ga4gh_passport_v1=[
            visa(broker, oidc["issuer"], sub="alice", value=dataset.url),
            visa(
                broker,
                oidc["issuer"],
                sub="alice",
                type_="ResearcherStatus",
                by="so",
                value="https://doi.org/10.1038/s41431-018-0219-y",
            ),
            visa(
                broker,
                oidc["issuer"],
                sub="alice",
                type_="AffiliationAndRole",
                by="system",
                value="faculty@uni.example",
            ),
        ],
    )
    response = sign_in(client, "alice", next_url="/account/tokens")
    assert response.status_code == 302 and response["Location"] == "/account/tokens"
    link = ExternalIdentity.objects.get(issuer=oidc["issuer"], subject="alice")
    user = link.user
    assert user.username != "alice" and user.email == "alice@uni.example" and user.first_name == "Alice"
    assert link.last_login_at is not None and not user.has_usable_password()
    assert client.session["passport_grants"]["researcher_status"] is True
    # What the DAC reads on its workbench: the affiliation and the ResearcherStatus visa.
    assert link.affiliation == "faculty@uni.example" and link.researcher_status_at is not None

    # The provider's ControlledAccessGrants visa opens our dataset for this session.
    listed = client.get("/api/datasets")
    assert listed.status_code == 200 and [d["accession"] for d in listed.json()] == [dataset.accession]

    # Signing in again lands on the same account.
    client.logout()
    assert sign_in(client, "alice").status_code == 302
    assert User.objects.filter(external_identities__issuer=oidc["issuer"]).count() == 1


def test_visas_from_an_untrusted_issuer_do_not_count(client, oidc, broker, dataset):
    set_account(
        oidc,
        "mallory",
        email="m@example.org",
        ga4gh_passport_v1=[visa(broker, "https://not-trusted.example", sub="mallory", value=dataset.url)],
    )
    assert sign_in(client, "mallory").status_code == 302
    assert client.get("/api/datasets").json() == []


def test_forged_callback_is_refused(client, oidc, db):
    client.get("/oidc/login")
    response = client.get("/oidc/callback?code=made-up&state=wrong")
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_not_configured_is_not_found(client, db):
    with override_settings(OIDC_ISSUER=None):
        assert client.get("/oidc/login").status_code == 404


def test_provider_tokens_mint_passports_with_no_extra_rights(client, oidc, broker, dataset):
    """A user signed in through the provider holds no entitlement here, so our passport token
    for them carries no ControlledAccessGrants (visas from elsewhere are not re-signed)."""
    set_account(
        oidc,
        "carol-ext",
        email="c@example.org",
        ga4gh_passport_v1=[visa(broker, oidc["issuer"], sub="carol-ext", value=dataset.url)],
    )
    sign_in(client, "carol-ext")
    response = client.post("/api/tokens", {}, content_type="application/json")
    assert response.status_code == 201
    import jwt as pyjwt

    assert pyjwt.decode(response.json()["token"], options={"verify_signature": False})["ga4gh_passport_v1"] == []


def test_unreachable_provider_gives_a_clear_page(client, db):
    with override_settings(OIDC_ISSUER=f"http://127.0.0.1:{free_port()}", OIDC_CLIENT_ID="x", OIDC_CLIENT_SECRET="y"):
        response = client.get("/oidc/login")
    assert response.status_code == 502 and b"could not be reached" in response.content

"""Passwords anywhere are rate limited per account and address, with growing delays (issue 10,
item 8): HTTP Basic on the API, the sign-in page and the admin's, all through one count."""

import base64

import pytest
from django.test import Client, override_settings

from tests.conftest import PASSWORD, clear_own_cache, make_user

LIMITS = dict(RATE_LIMIT_SIGNIN=3, RATE_LIMIT_WINDOW=600, RATE_LIMIT_DELAY=60, RATE_LIMIT_ADDRESS=50)


@pytest.fixture(autouse=True)
def fresh_counts():
    clear_own_cache()
    with override_settings(**LIMITS):
        yield
    clear_own_cache()


def _basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def permissions(client, username, password):
    return client.get(f"/api/permissions/{username}", HTTP_AUTHORIZATION=_basic(username, password))


def mint(client, username, password):
    return client.post(
        "/api/tokens", "{}", content_type="application/json", HTTP_AUTHORIZATION=_basic(username, password)
    )


@pytest.mark.django_db
def test_basic_auth_guessing_on_permissions_gets_429_with_a_doubling_retry_after():
    make_user("carol")
    attacker = Client(REMOTE_ADDR="198.51.100.7")
    for guess in range(3):
        assert permissions(attacker, "carol", f"guess-{guess}").status_code == 401
    waits = []
    for guess in range(3):
        refused = permissions(attacker, "carol", f"more-{guess}")
        assert refused.status_code == 429
        assert refused.json()["error"] == "TooManyRequests" and refused.json()["detail"]
        waits.append(int(refused["Retry-After"]))
    assert waits[1] >= 2 * waits[0] - 1 and waits[2] >= 2 * waits[1] - 1, waits
    assert waits[0] >= 60
    # Held back means held back: the right password from the guessing address is refused too.
    assert permissions(attacker, "carol", PASSWORD).status_code == 429


@pytest.mark.django_db
def test_deliberate_failures_from_one_address_do_not_lock_out_the_right_password_from_another():
    make_user("carol")
    stranger = Client(REMOTE_ADDR="198.51.100.7")
    for guess in range(6):
        assert permissions(stranger, "carol", f"guess-{guess}").status_code in (401, 429)
    assert permissions(stranger, "carol", PASSWORD).status_code == 429
    carol = Client(REMOTE_ADDR="203.0.113.20")
    assert permissions(carol, "carol", PASSWORD).status_code == 200
    assert mint(carol, "carol", PASSWORD).status_code == 201
    assert carol.post("/login", {"username": "carol", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_failures_count_across_every_place_a_password_is_accepted():
    make_user("erin", is_staff=True)
    client = Client(REMOTE_ADDR="198.51.100.20")
    assert client.post("/login", {"username": "erin", "password": "wrong"}).status_code == 200
    assert client.post("/admin/login/", {"username": "erin", "password": "wrong"}).status_code == 200
    assert mint(client, "erin", "wrong").status_code in (401, 403)
    for refused in (
        permissions(client, "erin", PASSWORD),
        mint(client, "erin", PASSWORD),
        client.post("/login", {"username": "erin", "password": PASSWORD}),
        client.post("/admin/login/", {"username": "erin", "password": PASSWORD}),
    ):
        assert refused.status_code == 429 and int(refused["Retry-After"]) >= 60


@pytest.mark.django_db
def test_one_address_trying_many_accounts_hits_the_per_address_cap():
    make_user("victim")
    sprayer = Client(REMOTE_ADDR="198.51.100.40")
    with override_settings(RATE_LIMIT_ADDRESS=5):
        for n in range(5):
            assert permissions(sprayer, f"user{n}", "Winter2026!").status_code == 401
        assert permissions(sprayer, "victim", PASSWORD).status_code == 429
        assert permissions(Client(REMOTE_ADDR="198.51.100.41"), "victim", PASSWORD).status_code == 200


@pytest.mark.django_db
def test_the_right_password_starts_the_count_again_and_successes_are_never_limited():
    make_user("scripted")
    client = Client(REMOTE_ADDR="198.51.100.30")
    for _ in range(2):
        assert mint(client, "scripted", "wrong").status_code in (401, 403)
    assert mint(client, "scripted", PASSWORD).status_code == 201
    for _ in range(2):
        assert mint(client, "scripted", "wrong").status_code in (401, 403)
    for _ in range(5):
        assert mint(client, "scripted", PASSWORD).status_code == 201


@pytest.mark.django_db
def test_behind_the_ingress_two_clients_are_counted_apart():
    make_user("carol")
    with override_settings(TRUSTED_PROXY_COUNT=1):
        proxy = Client(REMOTE_ADDR="10.0.0.2")
        for guess in range(4):
            permissions_response = proxy.get(
                "/api/permissions/carol",
                HTTP_AUTHORIZATION=_basic("carol", f"guess-{guess}"),
                HTTP_X_FORWARDED_FOR="198.51.100.7",
            )
        assert permissions_response.status_code == 429
        fine = proxy.get(
            "/api/permissions/carol", HTTP_AUTHORIZATION=_basic("carol", PASSWORD), HTTP_X_FORWARDED_FOR="203.0.113.20"
        )
        assert fine.status_code == 200


@pytest.mark.django_db
def test_the_sign_in_page_answers_a_page_in_the_readers_language():
    make_user("erin")
    client = Client(REMOTE_ADDR="198.51.100.50")
    for _ in range(3):
        client.post("/login", {"username": "erin", "password": "wrong"})
    english = client.post("/login", {"username": "erin", "password": PASSWORD})
    assert english.status_code == 429 and english["Content-Type"].startswith("text/html")
    assert "Too many failed passwords" in english.content.decode()
    estonian = client.post("/login", {"username": "erin", "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="et")
    assert estonian.status_code == 429 and "Liiga palju valesid paroole" in estonian.content.decode()

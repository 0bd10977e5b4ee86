"""Our own passport token's live checks, read in one statement: every one of them still counts on
the very next request with the verified passport cached (revocation, a disabled account, an
entitlement's end, a DAC block of the user or of an identity linked to them), and the one
statement answers what the separate queries answered."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gdi_archive.access.models import DACBlock
from gdi_archive.access.selectors import person, standing_blocks
from gdi_archive.accounts.models import ExternalIdentity
from gdi_archive.passports import services
from gdi_archive.passports.clearinghouse import (
    _own_passport_user,
    authenticate_token,
    own_token_grants,
    own_token_state,
)
from gdi_archive.passports.verified_cache import verified_passport
from tests.passports.conftest import bearer, grant, make_dataset

pytestmark = pytest.mark.django_db
BROKER = "https://broker.example.org"


def listed(api, token):
    response = bearer(api, token).get("/api/datasets")
    return response.status_code, sorted(
        d["accession"] for d in response.json()
    ) if response.status_code == 200 else None


@pytest.fixture
def held(applicant, dac, other_dac):
    """Two datasets of two DACs, both entitled to the applicant, and a warm token."""
    first, second = make_dataset(dac), make_dataset(other_dac, title="Other committee's set")
    grant(applicant, first)
    grant(applicant, second)
    token, saved = services.mint_passport_token(user=applicant)
    return token, saved, first, second


def test_authenticating_our_own_token_is_one_statement(api, held):
    token, _, first, second = held
    assert listed(api, token) == (200, sorted([first.accession, second.accession]))  # verified and cached
    with CaptureQueriesContext(connection) as queries:
        user, grants = authenticate_token(token)
    assert len(queries) == 1, [q["sql"] for q in queries.captured_queries]
    assert grants.datasets == {first.accession, second.accession} and grants.standing_blocks == ()
    assert grants.person is not None and grants.person.users == {user.pk}


def test_a_disabled_account_is_refused_on_the_next_request(api, applicant, held):
    token = held[0]
    assert listed(api, token)[0] == 200
    applicant.is_active = False
    applicant.save(update_fields=["is_active"])
    assert listed(api, token)[0] == 401


def test_an_entitlement_that_ends_stops_opening_at_once(api, applicant, held):
    token, _, first, second = held
    assert listed(api, token)[0] == 200
    applicant.entitlements.filter(dataset=first).update(end=timezone.now() - timedelta(seconds=1))
    assert listed(api, token) == (200, [second.accession])


def test_a_dac_block_of_the_user_or_of_a_linked_identity_counts_at_once(api, applicant, dac, dac_member, held):
    token, _, first, second = held
    assert listed(api, token)[0] == 200
    block = DACBlock.objects.create(dac=dac, user=applicant, reason="misuse", created_by=dac_member)
    assert listed(api, token) == (200, [second.accession])
    block.lifted_at = timezone.now()
    block.save(update_fields=["lifted_at"])
    assert listed(api, token) == (200, sorted([first.accession, second.accession]))
    # A block of an identity at a broker that is linked to the user here blocks the user's own token.
    ExternalIdentity.objects.create(user=applicant, issuer=BROKER, subject="alice-at-broker")
    DACBlock.objects.create(dac=dac, issuer=BROKER, subject="alice-at-broker", reason="misuse", created_by=dac_member)
    assert listed(api, token) == (200, [second.accession])


def test_a_revoked_token_is_refused_on_the_next_request(api, applicant, held):
    token, saved = held[0], held[1]
    assert listed(api, token)[0] == 200
    services.revoke_passport_token(user=applicant, token_id=saved.pk)
    assert listed(api, token)[0] == 401


def test_the_one_statement_answers_what_the_separate_queries_answer(applicant, dac, dac_member, held):
    from django.conf import settings

    token, _, first, _ = held
    ExternalIdentity.objects.create(user=applicant, issuer=BROKER, subject="alice-at-broker")
    DACBlock.objects.create(dac=dac, user=applicant, reason="misuse", created_by=dac_member)
    applicant.entitlements.filter(dataset=first).update(end=timezone.now() + timedelta(hours=1))
    checked = verified_passport(token, audiences={settings.BASE_URL.rstrip("/"), settings.OIDC_CLIENT_ID})
    now = timezone.now().timestamp()
    state = own_token_state(checked, now=now)
    user = _own_passport_user(checked)
    assert state.user == user
    assert (state.datasets, state.earliest, state.evidence) == own_token_grants(user, jti=checked.jti, now=now)
    assert sorted(state.blocks) == sorted(standing_blocks())
    _, grants = authenticate_token(token)
    assert grants.person == person(user=user, identities=checked.identities | {(checked.iss, checked.sub)})

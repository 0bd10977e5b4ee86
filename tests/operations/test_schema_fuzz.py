"""Schema-driven fuzzing: schemathesis generates requests for every operation in /api/schema and
checks that the archive never answers 5xx, never answers a status code the schema does not
list for that operation, and never answers with a body that contradicts the schema. Bounded (a
few examples per operation) so the whole run stays well under two minutes.

Driven through schemathesis' Python API (its pytest plugin does not load under pytest 9)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.conftest import make_user

EXAMPLES_PER_OPERATION = 10


@pytest.fixture
def operator_token(transactional_db):
    """An operator's passport token, so generated requests get past authentication into the views."""
    from gdi_archive.accounts.models import User
    from gdi_archive.passports.services import mint_passport_token

    User.objects.create_superuser("fuzz-operator", "op@example.org", "fuzz-password-123")
    make_user("fuzz-member")
    token, _ = mint_passport_token(user=User.objects.get(username="fuzz-operator"))
    # As at start-up in production: the stores exist, so /health/ready may say ready (a 503 is a 5xx).
    from gdi_archive import storage

    for store in (storage.archive_store(), storage.inbox_store(), storage.outbox_store()):
        store.ensure_ready()
    return token


@pytest.fixture
def unlimited_sign_in(settings):
    """Fuzzing sends hundreds of bad credentials from 127.0.0.1: let them reach the views (and
    leave no count behind for the tests that follow)."""
    from tests.client.conftest import reset_sign_in_limits

    settings.RATE_LIMIT_SIGNIN = 10**6
    settings.RATE_LIMIT_ADDRESS = 10**6
    yield
    reset_sign_in_limits()


@pytest.mark.slow
def test_no_server_errors_and_answers_match_the_schema(live_server, operator_token, unlimited_sign_in):
    schema = schemathesis.openapi.from_url(live_server.url + "/api/schema?format=json")
    headers = {"Authorization": f"Bearer {operator_token}"}
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            case.call_and_validate(
                base_url=live_server.url,
                headers=headers,
                checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
            )

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert operations >= 25, f"only {operations} operations in the schema"
    assert not failures, "\n\n".join(failures)

"""What a Beacon query costs the database and the budget, pinned: a variant query with a passport
token runs the same few statements however many datasets are released (no N+1), the budget is
one counter per asker with its window in Retry-After, and a refused query spends none of it."""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gdi_archive.beacon.models import Variant
from gdi_archive.catalogue.models import Dataset

from .conftest import validate_answer
from .helpers import g_variant, passport_client

# The passport token's row with its user's live entitlements (passports.clearinghouse, one
# statement on PostgreSQL), the released datasets with their variant pages (one statement), the
# audit INSERT.
VARIANT_QUERY_STATEMENTS = 3


def common_variant():
    return Variant.objects.filter(ac__gte=settings.BEACON_MIN_COUNT).order_by("-ac").first()


def statements(client, **query):
    g_variant(client, **query)  # the first call may fill caches (the verified passport)
    with CaptureQueriesContext(connection) as captured:
        response = g_variant(client, **query)
    assert response.status_code == 200, response.content[:300]
    return len(captured), [q["sql"] for q in captured.captured_queries], response.json()


@pytest.mark.parametrize("kind", ["position", "region"])
def test_a_variant_query_runs_the_same_statements_for_one_or_three_datasets(
    beacon_dataset, applicant, dac, schemas, kind
):
    v = common_variant()
    query = {"chrom": v.chrom, "start": v.start}
    query.update({"ref": v.ref, "alt": v.alt} if kind == "position" else {"end": v.start + 1_000_000})
    client = passport_client(applicant)
    one, sql, body = statements(client, **query)
    validate_answer(schemas, body)
    assert one <= VARIANT_QUERY_STATEMENTS, "\n".join(sql)
    assert body["responseSummary"]["exists"] is True
    for n in range(2):
        Dataset.objects.create(title=f"Empty {n}", dac=dac, status=Dataset.Status.RELEASED)
    three, sql, body = statements(client, **query, includeResultsetResponses="ALL")
    validate_answer(schemas, body)
    assert three == one, "\n".join(sql)
    assert [s["exists"] for s in body["response"]["resultSets"]] == [True, False, False]


def test_the_budget_window_is_in_retry_after_and_refusals_spend_nothing(beacon_dataset, applicant, settings, schemas):
    from tests.conftest import clear_own_cache

    clear_own_cache()
    settings.BEACON_QUERY_BUDGET = 2
    client = passport_client(applicant)
    v = common_variant()
    missing = g_variant(client, chrom=v.chrom, start=v.start, path="/beacon/v2/datasets/GDI-EE-DEMO-999/g_variants")
    assert missing.status_code == 404  # refused: not counted
    schemas.response(missing.json(), "beaconErrorResponse")
    for _ in range(2):
        assert g_variant(client, chrom=v.chrom, start=v.start).status_code == 200
    refused = g_variant(client, chrom=v.chrom, start=v.start)
    assert refused.status_code == 429
    schemas.response(refused.json(), "beaconErrorResponse")
    assert 0 < int(refused["Retry-After"]) <= 24 * 3600
    clear_own_cache()


def test_a_dataset_is_named_by_its_accession_or_its_gdi_identifier(beacon_dataset, applicant):
    v = common_variant()
    client = passport_client(applicant)
    listed = client.get("/beacon/v2/datasets").json()["response"]["collections"][0]["id"]
    for name in (beacon_dataset.accession, listed):
        body = g_variant(client, chrom=v.chrom, start=v.start, path=f"/beacon/v2/datasets/{name}/g_variants").json()
        assert body["responseSummary"]["exists"] is True
        assert [s["id"] for s in body["response"]["resultSets"]] == [listed]


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status"),
    [
        ("put", "/beacon/v2/g_variants", b"{}", "application/json", 405),
        ("post", "/beacon/v2/info", b"{}", "application/json", 405),
        ("post", "/beacon/v2/g_variants", b"referenceName=1", "application/x-www-form-urlencoded", 415),
        ("post", "/beacon/v2/g_variants", b"[1, 2", "application/json", 400),
    ],
)
def test_the_plain_views_answer_beacon_errors(db, api, schemas, method, path, body, content_type, status):
    response = api.generic(method.upper(), path, body, content_type=content_type)
    assert response.status_code == status, response.content
    schemas.response(response.json(), "beaconErrorResponse")
    assert response.json()["error"]["errorCode"] == status
    if status == 405:
        assert "GET" in response["Allow"]

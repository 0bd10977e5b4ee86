"""Who learns how much: granularity by who asks, the threshold, withdrawal and revocation at
once, the daily budget, the audit without genotype detail, and the operators' switches."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from gdi_archive.audit.models import AuditEvent
from gdi_archive.beacon.models import Variant

from .conftest import validate_answer
from .helpers import g_variant, individuals, passport_client

DIABETES = {"id": "MONDO:0005015", "scope": "individual"}


def common_variant():
    return Variant.objects.filter(ac__gte=settings.BEACON_MIN_COUNT).order_by("-ac").first()


def ask(client, variant, granularity="record"):
    return g_variant(
        client, chrom=variant.chrom, start=variant.start, ref=variant.ref, alt=variant.alt, granularity=granularity
    )


def test_anonymous_gets_at_most_boolean(beacon_dataset, api, schemas):
    variant = common_variant()
    for path in ("/beacon/v2/g_variants", "/beacon/v2/individuals"):
        if path.endswith("individuals"):
            response = individuals(api, filters=[DIABETES], granularity="record")
        else:
            response = ask(api, variant)
        body = response.json()
        validate_answer(schemas, body)
        assert body["meta"]["returnedGranularity"] == "boolean"
        assert body["responseSummary"] == {"exists": True}
        assert "response" not in body


def test_a_passport_gets_counts_a_grant_gets_records_never_more_than_asked(beacon_dataset, applicant, schemas):
    from tests.downloads.conftest import entitle

    variant = common_variant()
    body = individuals(passport_client(applicant), filters=[DIABETES], granularity="record").json()
    validate_answer(schemas, body)
    assert body["meta"]["returnedGranularity"] == "count"
    [result_set] = body["response"]["resultSets"]
    assert (
        result_set["resultsCount"] == 14 and result_set["results"] == []
    )  # the 14 MONDO cases; the 6 ICD10 ones are not under it
    entitle(applicant, beacon_dataset)
    granted = passport_client(applicant)
    body = individuals(granted, filters=[DIABETES], granularity="record").json()
    validate_answer(schemas, body)
    assert body["meta"]["returnedGranularity"] == "record"
    assert {r["id"] for r in body["response"]["resultSets"][0]["results"]} <= {f"S{n:02d}" for n in range(1, 31)}
    asked_count = individuals(granted, filters=[DIABETES], granularity="count").json()
    assert asked_count["meta"]["returnedGranularity"] == "count"
    assert asked_count["response"]["resultSets"][0]["results"] == []
    asked_boolean = ask(granted, variant, granularity="boolean").json()
    validate_answer(schemas, asked_boolean)
    assert "response" not in asked_boolean


def test_a_revoked_grant_changes_the_answer_at_once(beacon_dataset, applicant, dac_member):
    from gdi_archive.access.services import revoke_entitlement
    from tests.downloads.conftest import entitle

    entitlement = entitle(applicant, beacon_dataset)
    client = passport_client(applicant)
    assert individuals(client, granularity="record").json()["meta"]["returnedGranularity"] == "record"
    revoke_entitlement(entitlement=entitlement, member=dac_member, reason="ended")
    body = individuals(client, granularity="record").json()
    assert body["meta"]["returnedGranularity"] == "count"
    assert body["response"]["resultSets"][0]["results"] == []


def test_a_withdrawn_dataset_disappears_at_once(
    beacon_dataset, applicant, steward, schemas, django_capture_on_commit_callbacks
):
    from gdi_archive.catalogue import services as catalogue

    variant = common_variant()
    client = passport_client(applicant)
    assert ask(client, variant).json()["responseSummary"]["exists"] is True
    with django_capture_on_commit_callbacks(execute=False):  # the background clean-up has not run yet
        catalogue.withdraw_dataset(actor=steward, dataset=beacon_dataset, reason="consent withdrawn")
    assert Variant.objects.filter(dataset=beacon_dataset).exists()
    for body in (ask(client, variant).json(), individuals(client).json()):
        validate_answer(schemas, body)
        assert body["responseSummary"]["exists"] is False
    terms = client.get("/beacon/v2/filtering_terms").json()["response"]["filteringTerms"]
    assert terms == []
    assert client.get("/beacon/v2/datasets").json()["response"]["collections"] == []
    from gdi_archive.beacon.tasks import forget_dataset

    forget_dataset(beacon_dataset.pk)
    assert not Variant.objects.filter(dataset=beacon_dataset).exists()


def test_counts_under_the_threshold_are_not_found(beacon_dataset, applicant, settings, schemas):
    client = passport_client(applicant)
    seizure = {"id": "HP:0001250"}  # 10 individuals
    assert individuals(client, filters=[seizure]).json()["responseSummary"]["numTotalResults"] == 10
    settings.BEACON_MIN_COUNT = 11
    body = individuals(client, filters=[seizure]).json()
    validate_answer(schemas, body)
    assert body["responseSummary"] == {"exists": False, "numTotalResults": 0}


def test_the_daily_budget_is_per_person_and_429_past_it(beacon_dataset, applicant, other_applicant, settings, schemas):
    from tests.conftest import clear_own_cache

    clear_own_cache()
    settings.BEACON_QUERY_BUDGET = 3
    client = passport_client(applicant)
    for _ in range(3):
        assert individuals(client).status_code == 200
        assert client.get("/beacon/v2/info").status_code == 200  # framework GETs do not count
    assert client.post("/beacon/v2/g_variants", {"query": {}}, format="json").status_code == 400  # refused: not counted
    response = individuals(client)
    assert response.status_code == 429
    assert response["Retry-After"]
    schemas.response(response.json(), "beaconErrorResponse")
    assert response.json()["error"]["errorCode"] == 429
    assert individuals(passport_client(other_applicant)).status_code == 200  # another person: their own budget
    anonymous = APIClient(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        assert individuals(anonymous).status_code == 200
    assert individuals(anonymous).status_code == 429
    assert individuals(APIClient(REMOTE_ADDR="203.0.113.10")).status_code == 200
    clear_own_cache()


def test_every_query_is_audited_without_genotype_detail(beacon_dataset, applicant):
    variant = common_variant()
    before = AuditEvent.objects.filter(action="beacon.query").count()
    ask(passport_client(applicant), variant)
    individuals(APIClient(), filters=[DIABETES], variant={"referenceName": "22", "start": variant.start})
    events = list(AuditEvent.objects.filter(action="beacon.query").order_by("id"))[before:]
    assert len(events) == 2
    assert events[0].actor_name == applicant.username and events[1].actor_name == "anonymous"
    for event in events:
        text = str(event.details)
        assert str(variant.start) not in text and f"'{variant.alt}'" not in text
        assert event.details["variant_query"] is True
    assert events[1].details["filters"] == ["MONDO:0005015"]


def test_operators_can_turn_individuals_off_and_require_a_passport(beacon_dataset, api, applicant, settings, schemas):
    settings.BEACON_INDIVIDUALS = False
    response = individuals(passport_client(applicant))
    assert response.status_code == 404
    schemas.response(response.json(), "beaconErrorResponse")
    assert "individual" not in api.get("/beacon/v2/entry_types").json()["response"]["entryTypes"]
    settings.BEACON_INDIVIDUALS = True
    settings.BEACON_REQUIRE_PASSPORT = True
    response = ask(api, common_variant())
    assert response.status_code == 401
    schemas.response(response.json(), "beaconErrorResponse")
    assert ask(passport_client(applicant), common_variant()).status_code == 200


@pytest.mark.parametrize("granularity", ["count", "record"])
def test_a_broker_passport_with_no_grant_gets_counts(beacon_dataset, applicant, granularity):
    """A passport from a trusted broker is a Grants object on the request, as the clearinghouse makes it."""
    from gdi_archive.passports.grants import Grants

    client = APIClient()
    client.force_authenticate(
        user=applicant,
        token=Grants(subject="someone@lifescience-ri.eu", issuer="https://login.aai.lifescience-ri.eu/oidc/"),
    )
    body = individuals(client, granularity=granularity).json()
    assert body["meta"]["returnedGranularity"] == "count"


@pytest.mark.parametrize("entity_type", ["individual", "genomicVariation"])
def test_records_validate_against_the_default_model(beacon_dataset, applicant, schemas, entity_type):
    """Record-level answers: every returned individual (and variant) is a default-model record."""
    from tests.downloads.conftest import entitle

    from .conftest import validate_records

    if schemas.model(entity_type) is None:
        pytest.skip(f"The shared Beacon copy has no default-model schema for {entity_type} (models/json/...).")
    entitle(applicant, beacon_dataset)
    client = passport_client(applicant)
    if entity_type == "individual":
        body = individuals(client, filters=[DIABETES], granularity="record", pagination={"limit": 100}).json()
    else:
        v = common_variant()
        body = g_variant(client, chrom=v.chrom, start=v.start, end=v.start + 1_000_000, granularity="record").json()
    assert body["meta"]["returnedGranularity"] == "record"
    validate_answer(schemas, body)
    assert validate_records(schemas, body) == len(body["response"]["resultSets"][0]["results"]) > 0

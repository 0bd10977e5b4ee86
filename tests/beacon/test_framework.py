"""The framework endpoints answer, and every answer validates against the Beacon v2 schemas."""

import pytest

from .conftest import validate_answer

FRAMEWORK = [
    ("/beacon/v2", "beaconInfoResponse"),
    ("/beacon/v2/", "beaconInfoResponse"),
    ("/beacon/v2/info", "beaconInfoResponse"),
    ("/beacon/v2/configuration", "beaconConfigurationResponse"),
    ("/beacon/v2/map", "beaconMapResponse"),
    ("/beacon/v2/entry_types", "beaconEntryTypesResponse"),
    ("/beacon/v2/filtering_terms", "beaconFilteringTermsResponse"),
]


@pytest.mark.parametrize(("path", "schema"), FRAMEWORK)
def test_framework_documents_validate(db, api, schemas, path, schema):
    response = api.get(path)
    assert response.status_code == 200, response.content
    schemas.response(response.json(), schema)


def test_service_info_is_ga4gh(db, api, schemas):
    response = api.get("/beacon/v2/service-info")
    assert response.status_code == 200
    body = response.json()
    schemas.validate(body, "framework/json/responses/ga4gh-service-info-1-0-0-schema.json")
    assert body["type"] == {"group": "org.ga4gh", "artifact": "beacon", "version": "v2.0.0"}


def test_filtering_terms_list_what_released_datasets_hold(beacon_dataset, api, schemas):
    body = api.get("/beacon/v2/filtering_terms").json()
    schemas.response(body, "beaconFilteringTermsResponse")
    ids = {term["id"] for term in body["response"]["filteringTerms"]}
    assert {
        "MONDO:0005148",
        "ICD10:E11.9",
        "HP:0001250",
        "NCIT:C16576",
        "NCIT:C20197",
        "GAZ:00002959",
        "PATO:0000011",
    } <= ids


def test_datasets_are_listed_with_their_gdi_identifier(beacon_dataset, api, schemas):
    body = api.get("/beacon/v2/datasets").json()
    validate_answer(schemas, body)
    [listed] = body["response"]["collections"]
    number = int(beacon_dataset.accession[-11:])
    assert listed["id"] == f"GDI-EE-DEMO-{number}"
    assert listed["dataUseConditions"]["duoDataUse"][0]["id"] == "DUO:0000042"
    for key in (listed["id"], beacon_dataset.accession):
        one = api.get(f"/beacon/v2/datasets/{key}")
        assert one.status_code == 200 and one.json()["response"]["collections"][0]["id"] == listed["id"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/beacon/v2/g_variants", {"query": {"requestParameters": {"start": 5}}}, 400),
        ("post", "/beacon/v2/g_variants", {"query": {"requestedGranularity": "everything"}}, 400),
        (
            "post",
            "/beacon/v2/g_variants",
            {"query": {"requestParameters": {"referenceName": "22", "start": [1, 2]}}},
            400,
        ),
        (
            "post",
            "/beacon/v2/individuals",
            {"query": {"filters": [{"id": "PATO:0000011", "operator": ">", "value": "old"}]}},
            400,
        ),
        ("get", "/beacon/v2/g_variants?colour=blue", None, 400),
        ("get", "/beacon/v2/datasets/GDI-EE-DEMO-999/g_variants?referenceName=1&start=5", None, 404),
    ],
)
def test_bad_requests_are_beacon_errors(db, api, schemas, method, path, body, status):
    response = getattr(api, method)(path, body, format="json") if body is not None else getattr(api, method)(path)
    assert response.status_code == status, response.content
    payload = response.json()
    schemas.response(payload, "beaconErrorResponse")
    assert payload["error"]["errorCode"] == status


def test_not_json_is_a_beacon_error(db, api, schemas):
    response = api.generic("POST", "/beacon/v2/individuals", "{not json", content_type="application/json")
    assert response.status_code == 400
    schemas.response(response.json(), "beaconErrorResponse")


def test_a_bad_token_is_401_with_a_beacon_error(db, api, schemas):
    api.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    response = api.post("/beacon/v2/individuals", {}, format="json")
    assert response.status_code == 401
    schemas.response(response.json(), "beaconErrorResponse")

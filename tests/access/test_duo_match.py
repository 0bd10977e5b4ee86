"""duo_match: the intended use against the datasets' DUO terms (design.md section 7), as a table,
and through the API on a real request."""

import pytest

from gdi_archive.access.duo_match import check
from tests.conftest import client_for

from .factories import released_dataset, request_body

GRU, HMB, DS, POA, NRES = "DUO:0000042", "DUO:0000006", "DUO:0000007", "DUO:0000011", "DUO:0000004"
IRB, NCU, NPU, GS, PUB, COL, TS, US, RTN = (
    "DUO:0000021",
    "DUO:0000046",
    "DUO:0000045",
    "DUO:0000022",
    "DUO:0000019",
    "DUO:0000020",
    "DUO:0000025",
    "DUO:0000026",
    "DUO:0000029",
)
NPOA, CC = "DUO:0000044", "DUO:0000043"
CANCER, DIABETES = "MONDO:0004992", "MONDO:0005015"

# (requested use, dataset terms, compatible, codes expected among the issues)
TABLE = [
    ([GRU], [GRU], True, []),
    ([HMB], [GRU], True, []),
    ([DS], [GRU], True, []),
    ([DS, CANCER], [HMB], True, []),
    ([POA], [GRU], True, []),
    ([POA], [HMB], False, [POA]),  # HMB does not include population origins research
    ([POA], [DS, CANCER], False, [POA]),
    ([GRU], [HMB], False, [GRU]),  # a wider use than the dataset allows
    ([HMB], [DS, CANCER], False, [HMB]),
    ([DS, CANCER], [DS, CANCER], True, []),
    ([DS, DIABETES], [DS, CANCER], False, [DIABETES]),  # another disease
    ([DS], [DS, CANCER], False, [DS]),  # no disease named
    ([DS, CANCER], [DS], True, []),  # a DS dataset naming no disease
    ([GRU], [NRES], True, []),
    ([POA], [NRES], True, []),
    ([], [GRU], False, ["NoIntendedUse"]),  # no intended use given
    ([NCU], [GRU], False, ["NoIntendedUse"]),  # a modifier alone is no use
    ([HMB], [], False, ["NoDatasetPermission"]),
    ([HMB], [GRU, IRB], True, [IRB]),  # modifiers: conditions, compatible unchanged
    ([HMB], [HMB, NCU, NPU, PUB], True, [NCU, NPU, PUB]),
    ([GRU], [GRU, GS, COL, TS, US, RTN], True, [GS, COL, TS, US, RTN]),
    ([POA], [GRU, IRB], True, [IRB]),
    ([POA], [GRU, NPOA], False, [NPOA]),  # population origins research prohibited
    ([HMB], [GRU, NPOA], True, [NPOA]),  # ... which is only a condition for other uses
    ([HMB, CC], [HMB], False, [CC]),  # clinical care use not allowed by the dataset
    ([HMB, CC], [HMB, CC], True, [CC]),
    ([POA], [HMB, IRB], False, [POA, IRB]),  # misfit and conditions side by side
]


@pytest.mark.parametrize("use, terms, compatible, codes", TABLE)
def test_duo_table(use, terms, compatible, codes):
    answer = check(use, [("GDID00000000001", terms)])
    assert answer["compatible"] is compatible, answer
    found = [issue["code"] for issue in answer["issues"]]
    assert sorted(found) == sorted(codes), answer
    for issue in answer["issues"]:
        assert set(issue) >= {"code", "detail"} and issue["detail"]
        if issue["code"] in (IRB, NCU, NPU, GS, PUB, COL, TS, US, RTN):
            assert issue["condition"] is True


def test_every_dataset_must_fit():
    answer = check([HMB], [("GDID00000000001", [GRU]), ("GDID00000000002", [DS, CANCER])])
    assert answer["compatible"] is False
    assert [issue["dataset"] for issue in answer["issues"]] == ["GDID00000000002"]


@pytest.mark.django_db
def test_duo_match_on_the_request(applicant, dac, dac_member):
    hmb = released_dataset(dac, duo=[HMB, IRB])
    client = client_for(applicant)
    body = client.post("/api/access-requests", request_body(hmb, duo=[POA]), format="json").json()
    assert body["duo_match"]["compatible"] is False
    assert {i["code"] for i in body["duo_match"]["issues"]} == {POA, IRB}
    body = client.post(
        "/api/access-requests", request_body(released_dataset(dac, duo=[GRU]), duo=[DS, CANCER]), format="json"
    ).json()
    assert body["duo_match"] == {"compatible": True, "issues": []}

"""Every catalogue listing is keyset paginated: a JSON array per page, the next page in a
`Link: <...>; rel="next"` header, stable order by accession; bad cursors are a 400."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gdi_archive.catalogue.services import add_files_to_dataset, create_dataset, release_dataset
from tests.conftest import client_for

from .conftest import make_file, token_client

pytestmark = pytest.mark.django_db


def next_link(response) -> str | None:
    found = re.match(r'<([^>]+)>; rel="next"', response.get("Link", ""))
    return found.group(1) if found else None


def page_through(client, url):
    rows, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        assert isinstance(response.json(), list)
        rows += response.json()
        pages += 1
        url = next_link(response)
    return rows, pages


def released_with(steward, dac, count, title="Big"):
    dataset = create_dataset(actor=steward, title=title, dac=dac.accession, duo=["DUO:0000042"])
    files = [make_file(steward, f"{title}-{i}.bam") for i in range(count)]
    add_files_to_dataset(actor=steward, dataset=dataset, files=[f.accession for f in files])
    return release_dataset(actor=steward, dataset=dataset), files


def test_a_datasets_files_page_through_in_accession_order(steward, dac, applicant):
    dataset, files = released_with(steward, dac, 7)
    client = token_client(applicant, [dataset])
    rows, pages = page_through(client, f"/api/datasets/{dataset.accession}/files?limit=3")
    assert pages == 3
    assert [r["accession"] for r in rows] == sorted(f.accession for f in files)
    whole = client.get(f"/api/datasets/{dataset.accession}/files")
    assert next_link(whole) is None and [r["accession"] for r in whole.json()] == [r["accession"] for r in rows]


def test_dataset_listing_pages_and_keeps_the_filter(steward, dac, applicant):
    datasets = [released_with(steward, dac, 1, title=f"D{i}")[0] for i in range(5)]
    client = token_client(applicant, datasets[:4])  # the fifth is not granted
    rows, pages = page_through(client, "/api/datasets?limit=2")
    assert pages == 2
    assert [r["accession"] for r in rows] == sorted(d.accession for d in datasets[:4])


def test_a_steward_pages_through_the_dacs(steward, dac, other_dac):
    rows, pages = page_through(client_for(steward), "/api/dacs?limit=1")
    assert pages == 2 and {r["accession"] for r in rows} == {dac.accession, other_dac.accession}


@pytest.mark.parametrize(
    "query", ["cursor=garbage!", "cursor=WzEsMl0", "cursor=e30", "limit=0", "limit=x", "limit=5000"]
)
def test_bad_cursors_and_limits_are_a_400(steward, dac, applicant, query):
    dataset, _ = released_with(steward, dac, 2)
    response = token_client(applicant, [dataset]).get(f"/api/datasets/{dataset.accession}/files?{query}")
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidInput"


def test_listing_files_costs_the_same_queries_for_3_or_30_files(steward, dac, applicant):
    small, _ = released_with(steward, dac, 3, title="small")
    big, _ = released_with(steward, dac, 30, title="big")
    client = token_client(applicant, [small, big])
    counts = []
    for dataset in (small, big):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/datasets/{dataset.accession}/files").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 3, [q["sql"] for q in queries.captured_queries]


def test_listing_datasets_costs_the_same_queries_for_1_or_5_datasets(steward, dac, applicant):
    datasets = [released_with(steward, dac, 2, title=f"Q{i}")[0] for i in range(5)]
    counts = []
    for granted in (datasets[:1], datasets):
        client = token_client(applicant, granted)
        with CaptureQueriesContext(connection) as queries:
            assert len(client.get("/api/datasets").json()) == len(granted)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize("values", [[5], ["' OR 1=1 --"], [""], ["GDID"]])
def test_a_forged_dataset_listing_cursor_moves_only_within_what_is_granted(steward, dac, applicant, values):
    import base64
    import json

    datasets = [released_with(steward, dac, 1, title=f"F{i}")[0] for i in range(3)]
    client = token_client(applicant, datasets[:2])  # the third is not granted
    cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    response = client.get(f"/api/datasets?cursor={cursor}")
    assert response.status_code == 200, response.content
    assert [r["accession"] for r in response.json()] == sorted(d.accession for d in datasets[:2])


def test_the_dataset_listing_refuses_bad_cursors_and_limits_with_a_400(steward, dac, applicant):
    dataset, _ = released_with(steward, dac, 1)
    client = token_client(applicant, [dataset])
    for query in ("cursor=garbage!", "cursor=WzEsMl0", "cursor=W3RydWVd", "limit=0", "limit=1001"):
        response = client.get(f"/api/datasets?{query}")
        assert response.status_code == 400, query
        assert response.json()["error"] == "InvalidInput"

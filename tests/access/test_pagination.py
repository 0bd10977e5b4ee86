"""GET /api/access-requests and /api/entitlements are keyset paginated, newest first."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from gdi_archive.access.models import AccessRequest, Entitlement
from tests.conftest import client_for

from .factories import released_dataset

pytestmark = pytest.mark.django_db


def page_through(client, url):
    rows, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        rows += response.json()
        pages += 1
        found = re.match(r'<([^>]+)>; rel="next"', response.get("Link", ""))
        url = found.group(1) if found else None
    return rows, pages


def test_entitlements_page_through_newest_first(applicant, dac, steward):
    now = timezone.now()
    datasets = [released_dataset(dac, title=f"E{i}") for i in range(5)]
    made = [
        Entitlement.objects.create(
            user=applicant, dataset=d, granted_by=steward, start=now, end=now + timedelta(days=9), granted_at=now
        )
        for d in datasets
    ]  # the same granted_at: the id breaks the tie, so no row is lost or repeated
    rows, pages = page_through(client_for(applicant), "/api/entitlements?limit=2")
    assert pages == 3
    assert [r["id"] for r in rows] == sorted((e.id for e in made), reverse=True)


def test_access_requests_page_through(applicant, dac):
    datasets = [released_dataset(dac, title=f"R{i}") for i in range(6)]
    made = []
    for d in datasets:
        request = AccessRequest.objects.create(applicant=applicant, dac=dac, title="t", purpose="p")
        request.datasets.add(d)
        made.append(request)
    client = client_for(applicant)
    rows, pages = page_through(client, "/api/access-requests?limit=4")
    assert pages == 2
    assert [r["id"] for r in rows] == [r.id for r in sorted(made, key=lambda r: (r.created_at, r.id), reverse=True)]

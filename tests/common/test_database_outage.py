"""While the database is down, API callers get a 503 they can retry, not a 500."""

import socket

import pytest
from django.db import connection

from tests.conftest import client_for


@pytest.mark.django_db(transaction=True)
def test_database_outage_is_a_503_with_retry_after(applicant):
    client = client_for(applicant)
    client.raise_request_exception = False  # as a real server does: the error page, not the exception
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(port)
    try:
        response = client.get("/api/inbox")
        page = client.get("/datasets")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port
    assert response.status_code == 503
    assert response.json()["error"] == "ServiceUnavailable" and response["Retry-After"] == "30"
    assert page.status_code == 503 and b"Traceback" not in page.content
    assert client.get("/api/inbox").status_code == 200  # back as soon as the database is

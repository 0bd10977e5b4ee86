"""A reused database connection is checked without a round trip, and one the server ended is
still replaced before a request uses it (common/postgresql). The test client turns the checks
at a request's start off, so these send the request signals a real server sends."""

import select

import psycopg
import pytest
from django.core.signals import request_finished, request_started
from django.db import connection


def _beside():
    """A second connection to the same database, to watch and to end the first one."""
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"], port=s["PORT"], user=s["USER"], password=s["PASSWORD"], dbname=s["NAME"], autocommit=True
    )


@pytest.mark.django_db(transaction=True)
def test_an_idle_connection_is_checked_without_a_query():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last query before the check'")
    pid = connection.connection.info.backend_pid
    assert connection.is_usable()
    with _beside() as other:
        last = other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]
    assert last == "SELECT 'the last query before the check'"  # Django's own check leaves "SELECT 1"


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_before_the_next_request_uses_it():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    pid = connection.connection.info.backend_pid
    with _beside() as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))
    readable, _, _ = select.select([connection.connection.fileno()], [], [], 10)
    assert readable, "the server's notice of the ended connection never arrived"

    request_started.send(sender=None)  # what each request of a real server begins with
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        now = cursor.fetchone()[0]
    request_finished.send(sender=None)

    assert now != pid

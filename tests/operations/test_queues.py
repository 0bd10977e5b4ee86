"""An operator sees when a queue has no consumer (issue 10, item 1): /health/ready says
"degraded" with the queues nobody consumes, /metrics has gdi_queue_consumers, and the inbox
entry says it waits for a worker. With a real worker process the same answers say ok."""

import time

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from gdi_archive.celery import app


def consumers_metric(client) -> dict[str, float]:
    text = client.get("/metrics").content.decode()
    family = next((f for f in text_string_to_metric_families(text) if f.name == "gdi_queue_consumers"), None)
    return {sample.labels["queue"]: sample.value for sample in family.samples} if family else {}


@pytest.fixture(autouse=True)
def stores():
    from gdi_archive.storage import ensure_stores_ready

    ensure_stores_ready()


@pytest.fixture
def through_the_broker(transactional_db):
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = True


def test_without_a_worker_ready_says_degraded_and_metrics_say_zero(through_the_broker):
    client = Client()
    ready = client.get("/health/ready")
    assert ready.status_code == 200  # this process serves; the queues are what is missing
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["unconsumed_queues"] == ["default", "exports", "ingest"]
    assert body["checks"]["queue.ingest"] == "no consumer"
    assert consumers_metric(client) == {"default": 0, "exports": 0, "ingest": 0}


def test_a_worker_that_consumes_every_routed_queue_makes_it_ok(celery_worker_process):
    client = Client()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = client.get("/health/ready").json()
        if body["status"] == "ok":
            break
        time.sleep(0.3)
    assert body["status"] == "ok", body
    assert {body["checks"][f"queue.{q}"] for q in ("default", "exports", "ingest")} == {"ok"}
    assert consumers_metric(client) == {"default": 1, "exports": 1, "ingest": 1}


def test_eager_development_has_no_queue_checks(db):
    body = Client().get("/health/ready").json()
    assert body["status"] == "ok" and not any(key.startswith("queue.") for key in body["checks"])

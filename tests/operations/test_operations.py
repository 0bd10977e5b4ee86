"""Request ids and JSON logs, /metrics, the OpenAPI schema and docs, security headers and the
sign-in rate limits, all through HTTP."""

import io
import json
import logging

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client, override_settings
from django.urls import get_resolver
from prometheus_client.parser import text_string_to_metric_families

from gdi_archive.operations.logging import JsonFormatter, RequestIdFilter


def metric_value(text: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def scrape(client: Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.content.decode()


# --- request id and JSON logs ---------------------------------------------------------------------


@pytest.fixture
def json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def test_every_answer_has_a_request_id_and_a_good_one_is_kept():
    client = Client()
    made = client.get("/health/live")["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/health/live")["X-Request-ID"]
    assert client.get("/health/live", HTTP_X_REQUEST_ID="abc-123.proxy")["X-Request-ID"] == "abc-123.proxy"
    # A header that could forge log lines is replaced, not echoed.
    forged = client.get("/health/live", HTTP_X_REQUEST_ID='x"\n{"level": "ERROR"}')["X-Request-ID"]
    assert "\n" not in forged and len(forged) == 32


@pytest.mark.django_db
def test_log_lines_are_json_and_carry_the_request_id(json_log):
    response = Client().get(
        "/api/no-such-endpoint?signature=secret-signature-value",
        HTTP_X_REQUEST_ID="trace-42",
        HTTP_AUTHORIZATION="Bearer secret-token-value",
    )
    assert response.status_code == 404
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    mine = [line for line in lines if line.get("request_id") == "trace-42"]
    assert mine, lines
    assert {"time", "level", "logger", "message"} <= set(mine[0])
    assert "secret-token-value" not in json_log.getvalue()
    assert "secret-signature-value" not in json_log.getvalue(), "query strings (signed URLs) stay out of the log"


def test_log_format_follows_the_environment_setting():
    handler = settings.LOGGING["handlers"]["console"]
    assert handler["formatter"] == settings.LOG_FORMAT and "request_id" in handler["filters"]


# --- /metrics -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_count_requests_by_route_and_status():
    client = Client()
    before = metric_value(scrape(client), "gdi_http_requests_total", route="health/live", status="200", method="GET")
    client.get("/health/live")
    client.get("/health/live")
    after = metric_value(scrape(client), "gdi_http_requests_total", route="health/live", status="200", method="GET")
    assert after == before + 2


@pytest.mark.django_db
def test_metrics_are_closed_to_other_machines_without_a_token():
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200


@pytest.mark.django_db
def test_metrics_need_the_bearer_token_when_one_is_set():
    with override_settings(METRICS_TOKEN="s3cret-metrics-token"):
        local = Client()
        assert local.get("/metrics").status_code == 403
        assert local.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
        ok = Client(REMOTE_ADDR="203.0.113.9").get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
        assert ok.status_code == 200 and b"gdi_http_requests_total" in ok.content


@pytest.mark.django_db
def test_metrics_report_celery_queue_depth_from_redis():
    import redis

    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"{prefix}ingest"
    client.delete(key)
    try:
        client.rpush(key, "task-1", "task-2", "task-3")
        assert metric_value(scrape(Client()), "gdi_celery_queue_length", queue="ingest") == 3
    finally:
        client.delete(key)
    assert metric_value(scrape(Client()), "gdi_celery_queue_length", queue="ingest") == 0


def test_the_other_counters_exist_for_the_other_parts_to_use():
    from gdi_archive.operations import metrics

    metrics.VISA_VALIDATIONS.labels(result="invalid").inc()
    metrics.VISA_FAILURES.labels(reason="expired").inc()
    metrics.INGEST_DURATION.observe(12.5)
    text = metrics.exposition().decode()
    for name in [
        "gdi_visa_validations_total",
        "gdi_visa_validation_failures_total",
        "gdi_ingest_duration_seconds_bucket",
        "gdi_downloads_total",
        "gdi_download_bytes_total",
        "gdi_ingest_files_total",
        "gdi_celery_queue_length",
    ]:
        assert name in text or name.replace("_total", "") in text, name


# --- OpenAPI ------------------------------------------------------------------------------------------


def _routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    return list(walk(get_resolver().url_patterns))


@pytest.mark.django_db
def test_the_schema_covers_every_api_endpoint():
    response = Client().get("/api/schema", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    documented = {path.strip("/") for path in schema["paths"]}
    import re

    missing = []
    for route in _routes():
        if not route.startswith(("api/", "htsget/", "ga4gh/", ".well-known/", "health/", "service-info", "metrics")):
            continue
        if route in ("api/schema", "api/docs"):
            continue
        as_openapi = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route).strip("/")
        as_openapi = as_openapi.replace("{pk}", "{id}")
        if as_openapi not in documented:
            missing.append(route)
    assert not missing, f"not in /api/schema: {missing}"
    assert "passportBearer" in schema["components"]["securitySchemes"]


@pytest.mark.django_db
def test_the_docs_page_uses_only_our_own_assets():
    response = Client().get("/api/docs")
    assert response.status_code == 200
    page = response.content.decode()
    import re

    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources
    for source in sources:
        assert not source.startswith(("http:", "https:", "//")), f"{source} comes from another site"
        if source.startswith(settings.STATIC_URL):
            assert finders.find(source.removeprefix(settings.STATIC_URL)), f"{source} is not in our static files"
    script = Client().get("/api/docs", {"script": ""})
    assert script.status_code == 200 and b"/api/schema" in script.content


# --- security headers -------------------------------------------------------------------------------


def test_content_security_policy_allows_only_this_site():
    response = Client().get("/health/live")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("style-src")[0] and "http" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_hsts_is_sent_over_tls_in_production():
    with override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        secure = Client().get("/health/live", HTTP_X_FORWARDED_PROTO="https")
        plain = Client().get("/health/live")
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in plain

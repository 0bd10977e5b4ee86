"""Prometheus metrics; other parts of the archive import these names and increment them.

    from gdi_archive.operations import metrics
    metrics.VISA_VALIDATIONS.labels(result="valid").inc()

Names (all prefixed `gdi_`):
  http_requests_total{method,route,status}      every request (MetricsMiddleware; route = URL pattern)
  http_request_duration_seconds{route}          time to the response headers
  downloads_total{kind}                         successful downloads, kind = file, header, content,
                                                htsget, drs (counted by MetricsMiddleware); export
                                                (downloads: increment when an export finishes)
  download_bytes_total{kind}                    bytes sent (streamed bodies are counted as they go)
  ingest_files_total{result}                    ingest runs that ended: ready | error | other
  ingest_duration_seconds                       seconds an ingest task ran (histogram)
                                                (both counted from Celery signals in celery_signals.py)
  ingest_bytes_total                            ingest: plaintext bytes verified (ingest may increment)
  visa_validations_total{result}                passports: result = valid | invalid, one per visa
  visa_validation_failures_total{reason}        passports: why a visa was ignored (signature,
                                                expired, issuer, claims, dataset, entitlement...)
  passport_tokens_issued_total                  passports: tokens minted
  rate_limited_total{scope}                     refusals with 429 (scope = signin | tokens)
  celery_queue_length{queue}                    tasks waiting in Redis, read at scrape time

With several gunicorn workers or Celery processes, set PROMETHEUS_MULTIPROC_DIR (the image
does) and every process writes its counters there; /metrics adds them up.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # prometheus_client writes each process's numbers there; an empty volume may not have it yet.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

HTTP_REQUESTS = Counter("gdi_http_requests_total", "HTTP requests by route and status.", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "gdi_http_request_duration_seconds",
    "Seconds until the response headers were ready.",
    ["route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DOWNLOADS = Counter("gdi_downloads_total", "Successful downloads by kind.", ["kind"])
DOWNLOAD_BYTES = Counter("gdi_download_bytes_total", "Bytes sent to downloaders by kind.", ["kind"])
INGEST_FILES = Counter("gdi_ingest_files_total", "Files whose ingest ended, by result.", ["result"])
INGEST_BYTES = Counter("gdi_ingest_bytes_total", "Plaintext bytes verified by ingest.")
INGEST_DURATION = Histogram(
    "gdi_ingest_duration_seconds",
    "Seconds an ingest task ran.",
    buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 28800),
)
VISA_VALIDATIONS = Counter("gdi_visa_validations_total", "Visas checked, by result.", ["result"])
VISA_FAILURES = Counter("gdi_visa_validation_failures_total", "Visas ignored, by reason.", ["reason"])
PASSPORT_TOKENS = Counter("gdi_passport_tokens_issued_total", "Passport tokens minted by this archive.")
RATE_LIMITED = Counter("gdi_rate_limited_total", "Requests refused with 429, by scope.", ["scope"])


class QueueDepthCollector:
    """Celery's Redis transport keeps each queue as a list; its length is the backlog. And how
    many live workers consume each queue: 0 means its tasks wait for ever (alert on it)."""

    def collect(self):
        from django.conf import settings

        from gdi_archive.common import queues

        family = GaugeMetricFamily("gdi_celery_queue_length", "Tasks waiting in the broker.", labels=["queue"])
        if settings.REDIS_URL:
            import redis

            prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
            try:
                client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
                for queue in queues.routed_queues():
                    family.add_metric([queue], client.llen(f"{prefix}{queue}"))
            except redis.RedisError:
                pass  # the broker being down shows in /health/ready; no number beats a wrong one
        yield family
        counts = queues.consumers()
        consumers = GaugeMetricFamily(
            "gdi_queue_consumers", "Live Celery workers consuming each queue (0: its tasks wait).", labels=["queue"]
        )
        for queue, count in (counts or {}).items():
            consumers.add_metric([queue], count)
        yield consumers


_queue_registry = CollectorRegistry(auto_describe=False)
_queue_registry.register(QueueDepthCollector())


def exposition() -> bytes:
    """The text /metrics returns: this process (or all, in multiprocess mode) plus queue depths."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    return generate_latest(registry) + generate_latest(_queue_registry)

"""Health, service-info and the error pages (JSON for API paths, HTML for people)."""

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.http import require_GET

import gdi_archive

from .errors import json_error

log = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/htsget/", "/ga4gh/", "/.well-known/", "/health/", "/service-info")


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIXES)


def service_info_document(
    *, artifact: str = "gdi-archive", version: str | None = None, suffix: str = "", extra=None
) -> dict:
    """A GA4GH service-info object; htsget and DRS reuse it with their own type."""
    host = settings.BASE_URL.split("://", 1)[-1].split("/")[0].split(":")[0]
    reverse_host = ".".join(reversed(host.split("."))) if host.replace(".", "").isalpha() else "local.gdi-archive"
    document = {
        "id": f"{reverse_host}.{artifact}{suffix}",
        "name": f"GDI archive ({artifact})" if artifact != "gdi-archive" else "GDI archive",
        "type": {
            "group": "org.ga4gh" if artifact != "gdi-archive" else "eu.gdi",
            "artifact": artifact,
            "version": version or gdi_archive.__version__,
        },
        "description": "Controlled-access archive for Crypt4GH-encrypted human genomic data.",
        "organization": {"name": getattr(settings, "ORGANIZATION_NAME", "GDI national node"), "url": settings.BASE_URL},
        "version": gdi_archive.__version__,
        "environment": "prod" if settings.PRODUCTION else "dev",
    }
    if extra:
        document.update(extra)
    return document


@require_GET
def service_info(request):
    return JsonResponse(service_info_document())


@require_GET
def health_live(request):
    return JsonResponse({"status": "ok"})


@require_GET
def health_ready(request):
    """Ready when the database, the broker and every object store answer."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        log.warning("readiness: database: %s", exc.__class__.__name__)
        checks["database"] = "unavailable"
    if settings.REDIS_URL:
        try:
            import redis

            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()
            checks["broker"] = "ok"
        except Exception as exc:
            log.warning("readiness: broker: %s", exc.__class__.__name__)
            checks["broker"] = "unavailable"
    try:
        from gdi_archive import storage

        for name, store in (
            ("archive", storage.archive_store()),
            ("inbox", storage.inbox_store()),
            ("outbox", storage.outbox_store()),
        ):
            try:
                store.ping()
                checks[f"storage.{name}"] = "ok"
            except Exception as exc:
                log.warning("readiness: storage %s: %s", name, exc)
                checks[f"storage.{name}"] = "unavailable"
    except (ImportError, AttributeError):
        checks["storage"] = "not configured"
    ok = all(value in ("ok", "not configured") for value in checks.values())
    if not ok:
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    # Queues nothing consumes: this process can serve (200, so it stays in the load balancer),
    # but uploads and exports would wait for ever, so the answer says so.
    from . import queues

    counts = queues.consumers() or {}
    for queue, count in counts.items():
        checks[f"queue.{queue}"] = "ok" if count else "no consumer"
    stuck = sorted(queue for queue, count in counts.items() if not count)
    if stuck:
        return JsonResponse({"status": "degraded", "checks": checks, "unconsumed_queues": stuck})
    return JsonResponse({"status": "ok", "checks": checks})


def bad_request(request, exception=None):
    if _is_api(request):
        return json_error("InvalidInput", "The request could not be understood.", 400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _is_api(request):
        return json_error("Forbidden", "You may not do this.", 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if _is_api(request):
        return json_error("NotFound", "Not found.", 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        # The database is down or restarting: a passing outage, and the client may try again.
        detail = "The archive's database cannot be reached just now. Please try again in a minute."
        if _is_api(request):
            return json_error("ServiceUnavailable", detail, 503, headers={"Retry-After": "30"})
        return HttpResponse(detail, status=503, content_type="text/plain; charset=utf-8", headers={"Retry-After": "30"})
    if _is_api(request):
        return json_error("InternalError", "Something went wrong on our side; it has been logged.", 500)
    return defaults.server_error(request)

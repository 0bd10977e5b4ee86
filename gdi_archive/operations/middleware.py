"""Request ids, metrics, security headers and sign-in rate limits, as middleware so that every
view gets them without remembering to."""

import time

from django.shortcuts import render

from gdi_archive.common.errors import json_error
from gdi_archive.common.views import API_PREFIXES

from . import metrics, passwords
from .logging import new_request_id, request_id_var

# URL pattern prefixes (as Django writes them) whose successful answers are downloads.
_DOWNLOAD_PREFIXES = (("htsget/", "htsget"), ("ga4gh/drs/", "drs"))


class RequestIdMiddleware:
    """Takes the caller's (or the proxy's) X-Request-ID, or makes one; logs and the answer carry it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = new_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        # Not reset afterwards: Django logs 4xx/5xx answers after the middleware has returned,
        # and those lines need the id too. The next request in this thread sets its own.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else "unmatched"


def _download_kind(route: str) -> str | None:
    if route.startswith("api/files/"):
        for suffix in ("header", "content"):
            if route.endswith("/" + suffix):
                return suffix
        return "file"
    for prefix, kind in _DOWNLOAD_PREFIXES:
        if route.startswith(prefix) and "service-info" not in route:
            return kind
    return None


def _counting(chunks, kind: str):
    """Counts bytes as a streamed body goes out, so an interrupted download counts what was sent."""
    for chunk in chunks:
        metrics.DOWNLOAD_BYTES.labels(kind=kind).inc(len(chunk))
        yield chunk


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        route = _route(request)
        metrics.HTTP_DURATION.labels(route=route).observe(time.perf_counter() - started)
        metrics.HTTP_REQUESTS.labels(method=request.method, route=route, status=str(response.status_code)).inc()
        kind = _download_kind(route)
        if kind and request.method == "GET" and response.status_code in (200, 206):
            metrics.DOWNLOADS.labels(kind=kind).inc()
            if response.streaming:
                response.streaming_content = _counting(response.streaming_content, kind)
            else:
                metrics.DOWNLOAD_BYTES.labels(kind=kind).inc(len(response.content))
        return response


# Self only: no CDN, no inline script. The API docs page (Swagger UI, served from our own static
# files) sets inline styles, so it alone may.
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
CSP_DOCS = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class SecurityHeadersMiddleware:
    """CSP and friends; HSTS, nosniff and secure cookies come from Django's own settings."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = CSP_DOCS if request.path.startswith("/api/docs") else CSP
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        response.setdefault("Cross-Origin-Resource-Policy", "same-site")
        return response


class RateLimitMiddleware:
    """A request whose password check `passwords.PasswordGuard` refused (too many failures for
    that account from that address, or from that address at all) is answered 429 with
    Retry-After, whatever the view would have said (401, or the sign-in page again)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        wait = passwords.held_back(request)
        if wait is None:
            return response
        if not request.path.startswith(API_PREFIXES) and "Authorization" not in request.headers:
            page = render(request, "429.html", {"wait": wait}, status=429)
            page["Retry-After"] = str(wait)
            return page
        return json_error(
            "TooManyRequests",
            f"Too many failed passwords. Try again in {wait} seconds.",
            429,
            headers={"Retry-After": str(wait)},
        )

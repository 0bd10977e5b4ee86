"""Who is on the other end: the one place that says which address a request came from. Audit
rows, rate limits, the Beacon's budget and log lines all ask here, so that behind the ingress
they all name the real client and not the proxy."""

import ipaddress

from django.conf import settings


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_address(request) -> str:
    """The client's address. With `TRUSTED_PROXY_COUNT` = N proxies in front of us (each appends
    the address it saw to X-Forwarded-For), the client is the Nth entry from the end; entries
    further left were written by the client itself and are never believed. Without trusted
    proxies, or when the header is short or not an address, the socket's peer (REMOTE_ADDR)."""
    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= count:
            chosen = _valid(forwarded[-count])
            if chosen:
                return chosen
    return remote
